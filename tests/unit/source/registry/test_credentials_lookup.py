"""The Docker config lookup starts a worker thread only when there is a file to read."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from provcheck.errors import UsageError
from provcheck.source.registry.credentials import Credentials, DockerCredentials


def _lookup(config_dir: Path) -> tuple[Credentials | None, list[str]]:
    """The credentials of ``registry.example.com`` and the loop's worker threads after it."""

    async def run() -> tuple[Credentials | None, list[str]]:
        found = await DockerCredentials(config_dir).credentials("registry.example.com")
        workers = [t.name for t in threading.enumerate() if t.name.startswith("asyncio_")]
        return found, workers

    return asyncio.run(run())


def test_no_config_file_no_thread(tmp_path: Path) -> None:
    assert _lookup(tmp_path / "absent") == (None, [])


def test_a_config_file_is_read_in_a_thread(tmp_path: Path) -> None:
    auth = {"auths": {"registry.example.com": {"username": "u", "password": "p"}}}
    (tmp_path / "config.json").write_text(json.dumps(auth))
    found, workers = _lookup(tmp_path)
    assert found is not None and (found.username, found.password) == ("u", "p")
    assert len(workers) == 1


def test_an_unreadable_config_dir_is_still_an_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="cannot read"):
        _lookup(tmp_path / "file")

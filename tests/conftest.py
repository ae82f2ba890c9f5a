"""Shared fixtures: fixture paths, a real docker-registry on loopback, the real cases loaded."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.paths import FIXTURES_DIR, real_case
from tests.redis_server import redis_server
from tests.reference_tools import skip_or_fail
from tests.registry import DOCKER_REGISTRY, RealRegistry, RegistryServer, load_real_cases


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-online", action="store_true", default=False, help="run tests marked online"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "online: needs the internet (opt in with --run-online)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_online = pytest.mark.skip(reason="needs --run-online")
    for item in items:
        if {"registry_server", "real_registry"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.registry)
        if "online" in item.keywords and not config.getoption("--run-online"):
            item.add_marker(skip_online)


@pytest.fixture(autouse=True)
def _private_cache_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test its own ``$XDG_CACHE_HOME``: the default cache (of ``audit``) is never the
    user's, and no test warms another's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


def require_docker_registry() -> None:
    """Skip (locally) or fail (with ``CI=true``) when Debian's docker-registry is missing."""
    if DOCKER_REGISTRY.exists():
        return
    message = f"{DOCKER_REGISTRY} is missing (apt-get install docker-registry)"
    skip_or_fail(message)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The committed ``fixtures/`` directory."""
    assert FIXTURES_DIR.is_dir(), FIXTURES_DIR
    return FIXTURES_DIR


@pytest.fixture(scope="session", name="real_case")
def real_case_fixture(fixtures_dir: Path) -> Callable[[str], Path]:
    """``real_case("a-single-min")`` -> the folder of that real BuildKit case."""
    return real_case


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """One plain-HTTP docker-registry on 127.0.0.1 for the whole session."""
    require_docker_registry()
    server = RegistryServer(tmp_path_factory.mktemp("registry"))
    with server:
        yield server


@pytest.fixture(scope="session")
def real_registry(registry_server: RegistryServer) -> RealRegistry:
    """Every case of fixtures/real pushed (all layout tags) into the session registry."""
    return load_real_cases(registry_server)


@pytest.fixture
def unique_repository(request: pytest.FixtureRequest) -> str:
    """A repository name no other test uses, e.g. ``t/test-push-roundtrip-3f2a``."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60].strip("-")
    return f"t/{name}-{os.urandom(2).hex()}"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of one redis-server (no persistence) for the session."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def _isolating_command() -> list[str] | None:
    """``unshare -rn`` (an unprivileged user namespace) or, as root, ``unshare -n``: whichever
    runs here; ``None`` when neither does."""
    for command in (["unshare", "-rn"], ["unshare", "-n"]):
        if shutil.which(command[0]) is None:
            return None
        try:
            probe = subprocess.run([*command, "true"], capture_output=True, timeout=30)
        except OSError:
            continue
        if probe.returncode == 0:
            return command
    return None


@pytest.fixture(scope="module")
def offline() -> list[str]:
    """The prefix that runs a command in a new network namespace (no interface up)."""
    command = _isolating_command()
    if command is None:
        message = "neither `unshare -rn` nor `unshare -n` works here"
        skip_or_fail(message)
    return command

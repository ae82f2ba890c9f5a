"""Registry credentials for the Gate, against a real TLS + basic-auth registry: a mounted Docker
``config.json`` (a Kubernetes Secret's ``.dockerconfigjson``) through ``RegistryOptions``, or a
pull secret's bytes through ``StaticCredentials``; a wrong password denies, naming no secret."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

from provcheck.admission import Decision, ReviewOutcome
from provcheck.source.registry import RegistryOptions, StaticCredentials
from tests import admission_docs as docs
from tests.gate_support import POLICY_TEXT, Recorder, make_gate
from tests.integration import test_registry_auth_cli as auth

PASSWORD, USER = auth.PASSWORD, auth.USER
ca, ca_file, secure_registry = auth.ca, auth.ca_file, auth.secure_registry
"""The TLS + basic-auth registry of test_registry_auth_cli (its fixtures, used here too)."""
WARN = POLICY_TEXT + "on-incomplete: warn\n"  # a-single-min is min mode


def _config_json(host: str, password: str) -> bytes:
    auth = base64.b64encode(f"{USER}:{password}".encode()).decode()
    return json.dumps({"auths": {host: {"auth": auth}}}).encode()


def _review(tmp_path: Path, options: RegistryOptions, image: str, **kwargs: Any) -> ReviewOutcome:
    async def run() -> ReviewOutcome:
        gate = make_gate(tmp_path / "cache", policy_text=WARN, registry=options, **kwargs)
        try:
            return await gate.review(docs.body(docs.pod_create([image])), mutate=True)
        finally:
            await gate.aclose()

    return asyncio.run(run())


def _shown(outcome: ReviewOutcome) -> str:
    return json.dumps(dict(outcome.response)) + json.dumps(dict(outcome.log))


def test_a_mounted_docker_config_authenticates(
    secure_registry: str, ca_file: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "pull-secret"
    secret.mkdir()
    (secret / "config.json").write_bytes(_config_json(secure_registry, PASSWORD))
    options = RegistryOptions(ca_file=ca_file, docker_config_dir=secret)
    recorder = Recorder()
    image = f"{secure_registry}/lab/a-single-min:1"
    outcome = _review(tmp_path, options, image, observer=recorder)
    assert outcome.decision is Decision.ALLOWED, outcome.response
    assert PASSWORD not in _shown(outcome)
    assert recorder.requests and set(recorder.requests) == {(secure_registry, False)}


def test_a_wrong_password_denies_without_showing_it(
    secure_registry: str, ca_file: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "pull-secret"
    secret.mkdir()
    (secret / "config.json").write_bytes(_config_json(secure_registry, "wrong-Pa55word"))
    options = RegistryOptions(ca_file=ca_file, docker_config_dir=secret)
    outcome = _review(tmp_path, options, f"{secure_registry}/lab/a-single-min:1")
    assert outcome.decision is Decision.DENIED
    message = outcome.response["response"]["status"]["message"]
    assert "not verified" in message and "wrong-Pa55word" not in _shown(outcome)


def test_a_pull_secrets_bytes_authenticate(
    secure_registry: str, ca_file: Path, tmp_path: Path
) -> None:
    credentials = StaticCredentials.from_docker_config_json(
        _config_json(f"https://{secure_registry}", PASSWORD), origin="secret gate/pull"
    )
    options = RegistryOptions(ca_file=ca_file, docker_config_dir=tmp_path / "none")
    outcome = _review(
        tmp_path, options, f"{secure_registry}/lab/a-single-min:1", credentials=credentials
    )
    assert outcome.decision is Decision.ALLOWED
    assert outcome.response["response"]["patchType"] == "JSONPatch"

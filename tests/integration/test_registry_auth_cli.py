"""The CLI against a real registry with TLS and basic auth: credentials from Docker's
config.json, CAs from --ca-file, and no credential ever printed; and pull-secret credentials
through the library."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest
import trustme

from provcheck.api import inspect_image_async
from provcheck.cli import main
from provcheck.errors import AuthenticationError
from provcheck.source.registry import RegistryClient, RegistryOptions, StaticCredentials
from tests.conftest import require_docker_registry
from tests.oci_push import push_layout
from tests.paths import REAL_DIR
from tests.registry import RegistryServer

USER, PASSWORD = "auditor", "s3cret-Pa55word-never-printed"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def secure_registry(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A TLS + htpasswd registry on 127.0.0.2 holding a-single-min; yields its host."""
    require_docker_registry()
    work = tmp_path_factory.mktemp("secure")
    cert = ca.issue_cert("127.0.0.2")
    cert.private_key_pem.write_to_path(str(work / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(work / "cert.pem"))
    ca.cert_pem.write_to_path(str(work / "ca.pem"))
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (work / "htpasswd").write_text(f"{USER}:{hashed}\n")
    server = RegistryServer(
        work / "registry",
        htpasswd=work / "htpasswd",
        tls_cert=work / "cert.pem",
        tls_key=work / "key.pem",
        bind_host="127.0.0.2",
    )
    with (
        server,
        httpx.Client(
            auth=(USER, PASSWORD), verify=ssl.create_default_context(cafile=work / "ca.pem")
        ) as client,
    ):
        push_layout(
            server.url, REAL_DIR / "a-single-min" / "oci-layout", "lab/a-single-min", client=client
        )
        yield server.host


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def _docker_config(
    tmp_path: Path, host: str, password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "docker"
    config.mkdir()
    auth = base64.b64encode(f"{USER}:{password}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))


def test_credentials_and_ca_file(
    secure_registry: str,
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _docker_config(tmp_path, secure_registry, PASSWORD, monkeypatch)
    ref = f"{secure_registry}/lab/a-single-min:1"
    code = main(["-vv", "inspect", ref, "--format", "provenance", "--ca-file", str(ca_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    expected = (REAL_DIR / "a-single-min" / "inspect.provenance.json").read_text()
    assert out.rstrip("\n") == expected.rstrip("\n")
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert PASSWORD not in out + err and encoded not in out + err


def test_wrong_password_is_one_line_without_it(
    secure_registry: str,
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "wrong-Pa55word-never-printed"
    _docker_config(tmp_path, secure_registry, wrong, monkeypatch)
    ref = f"{secure_registry}/lab/a-single-min:1"
    code = main(["inspect", ref, "--ca-file", str(ca_file)])
    out, err = capsys.readouterr()
    assert (code, out) == (3, "")
    assert err.startswith("provcheck: error: ") and err.count("\n") == 1
    assert "credentials" in err.lower() or "authentic" in err.lower()
    assert wrong not in err


def test_untrusted_certificate_is_refused(
    secure_registry: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _docker_config(tmp_path, secure_registry, PASSWORD, monkeypatch)
    code = main(["inspect", f"{secure_registry}/lab/a-single-min:1"])
    _, err = capsys.readouterr()
    assert code == 3
    assert "certificate" in err.lower() and err.count("\n") == 1


def test_anonymous_access_is_refused(
    secure_registry: str,
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    code = main(["inspect", f"{secure_registry}/lab/a-single-min:1", "--ca-file", str(ca_file)])
    _, err = capsys.readouterr()
    assert code == 3
    assert "401" in err or "authentic" in err.lower()


def test_a_kubernetes_pull_secret_authenticates_one_tenant_of_a_shared_client(
    secure_registry: str, ca_file: Path, tmp_path: Path
) -> None:
    """Two tenants on one client, each with the ``.dockerconfigjson`` of its pull secret (bytes,
    as the Kubernetes API returns them): the right one reads the image, the wrong one does not
    ride on the other's requests, tokens or answers."""

    def secret(password: str) -> StaticCredentials:
        auth = base64.b64encode(f"{USER}:{password}".encode()).decode()
        data = json.dumps({"auths": {f"https://{secure_registry}": {"auth": auth}}}).encode()
        return StaticCredentials.from_docker_config_json(data, origin="secret t/pull")

    options = RegistryOptions(ca_file=ca_file, docker_config_dir=tmp_path / "none")
    ref = f"{secure_registry}/lab/a-single-min:1"

    async def run() -> None:
        async with RegistryClient(options) as client:
            good, wrong = secret(PASSWORD), secret("wrong-password")
            results = await asyncio.gather(
                inspect_image_async(ref, client=client, credentials=good),
                inspect_image_async(ref, client=client, credentials=wrong),
                return_exceptions=True,
            )
            assert not isinstance(results[0], BaseException), results[0]
            assert isinstance(results[1], AuthenticationError)
            assert "wrong-password" not in str(results[1])

    asyncio.run(run())

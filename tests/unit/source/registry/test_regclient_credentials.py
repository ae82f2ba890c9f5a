"""Credentials from Docker's config.json, including real credential-helper subprocesses."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from provcheck.errors import UsageError
from provcheck.source.registry import Credentials, DockerCredentials, StaticCredentials
from provcheck.source.registry.credentials import config_key_host, docker_config_dir, server_url


def _config(directory: Path, doc: object) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "config.json").write_text(json.dumps(doc))
    return directory


def _credentials(
    registry: str, config_dir: Path, *, helper_timeout: float = 20.0
) -> Credentials | None:
    """What :class:`DockerCredentials` gives for ``registry``, from a fresh provider."""
    provider = DockerCredentials(config_dir, helper_timeout=helper_timeout)
    return asyncio.run(provider.credentials(registry))


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


HELPER = """#!{python}
import json, os, sys
server = sys.stdin.read()
with open(os.environ["HELPER_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + " " + server + "\\n")
answers = json.loads(os.environ["HELPER_ANSWERS"])
if server not in answers:
    print("credentials not found in native keychain")
    sys.exit(1)
answer = answers[server]
if answer == "crash":
    sys.stderr.write("secret-in-stderr\\n")
    sys.exit(3)
if answer == "hang":
    import time
    time.sleep(30)
if answer == "garbage":
    print("not json")
    sys.exit(0)
print(json.dumps({{"ServerURL": server, "Username": answer[0], "Secret": answer[1]}}))
"""


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``docker-credential-fake`` on PATH; answers come from $HELPER_ANSWERS."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker-credential-fake"
    script.write_text(HELPER.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "helper.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HELPER_LOG", str(log))
    monkeypatch.setenv("HELPER_ANSWERS", "{}")
    return log


def _answers(monkeypatch: pytest.MonkeyPatch, answers: dict[str, object]) -> None:
    monkeypatch.setenv("HELPER_ANSWERS", json.dumps(answers))


def test_auths_auth_field(tmp_path: Path) -> None:
    d = _config(tmp_path / "d", {"auths": {"ghcr.io": {"auth": _auth("alice", "pa:ss")}}})
    creds = _credentials("ghcr.io", d)
    assert creds is not None
    assert (creds.username, creds.password, creds.identity_token) == ("alice", "pa:ss", None)
    assert creds.has_password
    assert "pa:ss" not in repr(creds) and "pa:ss" not in str(creds)
    assert "password" in repr(creds)


def test_auths_username_password_and_identity_token(tmp_path: Path) -> None:
    d = _config(
        tmp_path / "d",
        {
            "auths": {
                "https://reg.example.com/v2/": {"username": "bob", "password": "pw"},
                "http://tok.example.com": {"auth": _auth("x", ""), "identitytoken": "idtok"},
            }
        },
    )
    assert _credentials("reg.example.com", d) == Credentials(
        "bob", "pw", origin=f"{d / 'config.json'} auths['https://reg.example.com/v2/']"
    )
    creds = _credentials("tok.example.com", d)
    assert creds is not None and creds.identity_token == "idtok"
    assert "idtok" not in repr(creds)
    assert _credentials("other.example.com", d) is None
    assert _credentials("reg.example.com:5000", d) is None  # the port is part of the key


def test_docker_hub_key(tmp_path: Path) -> None:
    hub = {"https://index.docker.io/v1/": {"auth": _auth("h", "p")}}
    d = _config(tmp_path / "d", {"auths": hub})
    creds = _credentials("docker.io", d)
    assert creds is not None and creds.username == "h"
    assert server_url("docker.io") == "https://index.docker.io/v1/"
    assert server_url("localhost:5000") == "localhost:5000"


def test_exact_key_wins(tmp_path: Path) -> None:
    d = _config(
        tmp_path / "d",
        {"auths": {"https://h.io": {"auth": _auth("a", "1")}, "h.io": {"auth": _auth("b", "2")}}},
    )
    creds = _credentials("h.io", d)
    assert creds is not None and creds.username == "b"


def test_missing_and_malformed_config(tmp_path: Path) -> None:
    assert _credentials("ghcr.io", tmp_path / "nothing") is None
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text('{"auths": {"h": {"auth": "s3cr3t"')
    with pytest.raises(UsageError, match="not valid JSON") as info:
        _credentials("h", tmp_path / "bad")
    assert "s3cr3t" not in str(info.value)
    d = _config(tmp_path / "d", {"auths": {"h": {"auth": "!!!not-base64"}}})
    with pytest.raises(UsageError, match="base64"):
        _credentials("h", d)


def test_docker_config_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert docker_config_dir() == tmp_path
    assert docker_config_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("DOCKER_CONFIG")
    assert docker_config_dir() == Path.home() / ".docker"


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("http://h:5000", "h:5000"),
        ("h:5000/v2/", "h:5000"),
        ("H.io", "h.io"),
    ],
)
def test_config_key_host(key: str, host: str) -> None:
    assert config_key_host(key) == host


def test_cred_helper(tmp_path: Path, helper: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _answers(monkeypatch, {"ghcr.io": ["user1", "secret1"], "h.io": ["<token>", "refresh"]})
    d = _config(
        tmp_path / "d",
        {
            "credHelpers": {"ghcr.io": "fake", "h.io": "fake"},
            "auths": {"ghcr.io": {"auth": _auth("ignored", "x")}},
        },
    )
    creds = _credentials("ghcr.io", d)
    assert creds is not None
    assert (creds.username, creds.password) == ("user1", "secret1")
    assert creds.origin == "credential helper docker-credential-fake"
    token = _credentials("h.io", d)
    assert token is not None and token.identity_token == "refresh" and token.username is None
    assert helper.read_text().splitlines() == ["get ghcr.io", "get h.io"]


def test_creds_store_for_docker_hub_and_not_found(
    tmp_path: Path, helper: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answers(monkeypatch, {"https://index.docker.io/v1/": ["hubuser", "hubpass"]})
    auths = {"q.io": {"auth": _auth("a", "b")}}
    d = _config(tmp_path / "d", {"credsStore": "fake", "auths": auths})
    creds = _credentials("docker.io", d)
    assert creds is not None and creds.username == "hubuser"
    assert _credentials("q.io", d) is None  # the helper says "not found": anonymous
    assert helper.read_text().splitlines() == ["get https://index.docker.io/v1/", "get q.io"]


def test_docker_credentials_run_helpers_on_the_event_loop_once_per_registry(
    tmp_path: Path, helper: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answers(monkeypatch, {"ghcr.io": ["user1", "secret1"], "h.io": ["<token>", "refresh"]})
    d = _config(tmp_path / "d", {"credsStore": "fake"})
    provider = DockerCredentials(d)

    async def run() -> None:
        found = await asyncio.gather(*(provider.credentials("ghcr.io") for _ in range(5)))
        assert {(c.username, c.password) for c in found if c is not None} == {("user1", "secret1")}
        token = await provider.credentials("h.io")
        assert token is not None and token.identity_token == "refresh"
        assert await provider.credentials("nothing.io") is None

    asyncio.run(run())
    assert helper.read_text().splitlines() == ["get ghcr.io", "get h.io", "get nothing.io"]


def test_docker_credentials_helper_failures(
    tmp_path: Path, helper: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answers(monkeypatch, {"crash.io": "crash", "garbage.io": "garbage", "hang.io": "hang"})
    d = _config(tmp_path / "d", {"credsStore": "fake"})
    provider = DockerCredentials(d, helper_timeout=0.5)
    missing = DockerCredentials(_config(tmp_path / "m", {"credHelpers": {"x.io": "absent"}}))
    evil = DockerCredentials(_config(tmp_path / "e", {"credsStore": "../../bin/sh"}))

    async def run() -> None:
        with pytest.raises(UsageError, match=r"failed for crash\.io \(exit status 3\)") as info:
            await provider.credentials("crash.io")
        assert "secret-in-stderr" not in str(info.value)
        with pytest.raises(UsageError, match="malformed output"):
            await provider.credentials("garbage.io")
        with pytest.raises(UsageError, match=r"did not answer within 0\.5 s"):
            await provider.credentials("hang.io")
        with pytest.raises(UsageError, match="docker-credential-absent is not installed"):
            await missing.credentials("x.io")
        with pytest.raises(UsageError, match="invalid credential helper name"):
            await evil.credentials("x.io")

    asyncio.run(run())


def test_static_credentials() -> None:
    alice = Credentials(username="alice", password="pw", origin="pull secret")
    provider = StaticCredentials({"Reg.Example.com:5000": alice})
    assert asyncio.run(provider.credentials("reg.example.com:5000")) is alice
    assert asyncio.run(provider.credentials("reg.example.com")) is None


def test_docker_credentials_are_read_again_after_their_ttl(tmp_path: Path) -> None:
    """A rotated secret (a remounted Kubernetes Secret) is picked up by a long-lived client."""
    d = _config(tmp_path / "d", {"auths": {"ghcr.io": {"auth": _auth("alice", "old")}}})
    provider = DockerCredentials(d, ttl=0.2)

    async def run() -> None:
        first = await provider.credentials("ghcr.io")
        _config(d, {"auths": {"ghcr.io": {"auth": _auth("alice", "rotated")}}})
        again = await provider.credentials("ghcr.io")
        assert first is not None and again is first  # within the TTL: not read again
        assert len(provider._locks) == 0  # a lock lives only while a lookup runs
        await asyncio.sleep(0.25)
        rotated = await provider.credentials("ghcr.io")
        assert rotated is not None and rotated.password == "rotated"

    asyncio.run(run())


def test_docker_credentials_keep_a_bounded_number_of_registries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provcheck.source.registry import credentials

    monkeypatch.setattr(credentials, "MAX_REGISTRIES", 3)
    provider = DockerCredentials(_config(tmp_path / "d", {"auths": {}}))

    async def run() -> None:
        for n in range(5):
            assert await provider.credentials(f"r{n}.io") is None

    asyncio.run(run())
    assert len(provider._found) == 3


PULL_SECRET = {
    "auths": {
        "https://index.docker.io/v1/": {"auth": _auth("hub-user", "hub-pw")},
        "ghcr.io": {"username": "gh", "password": "gh-pw"},
        "https://Reg.Example.com:5000/v2/": {"identitytoken": "refresh"},
        "empty.io": {},
    },
    "credHelpers": {"ghcr.io": "never-run"},
}


def test_a_kubernetes_pull_secret_is_a_credential_provider() -> None:
    """The ``.dockerconfigjson`` of a ``kubernetes.io/dockerconfigjson`` Secret, from bytes."""
    provider = StaticCredentials.from_docker_config_json(
        json.dumps(PULL_SECRET).encode(), origin="secret ns/pull"
    )

    async def run() -> None:
        hub = await provider.credentials("docker.io")
        assert hub is not None and (hub.username, hub.password) == ("hub-user", "hub-pw")
        assert await provider.credentials("registry-1.docker.io") is hub
        gh = await provider.credentials("GHCR.io")  # auths, never credHelpers (as the kubelet)
        assert gh is not None and (gh.username, gh.password) == ("gh", "gh-pw")
        assert gh.origin == "secret ns/pull auths['ghcr.io']"
        token = await provider.credentials("reg.example.com:5000")
        assert token is not None and token.identity_token == "refresh"
        assert await provider.credentials("empty.io") is None
        assert await provider.credentials("quay.io") is None

    asyncio.run(run())


@pytest.mark.parametrize(
    "data",
    [
        b"not json hunter2",
        b'["hunter2"]',
        b'{"auths": ["hunter2"]}',
        b'{"auths": {"ghcr.io": {"auth": "hunter2"}}}',
    ],
)
def test_a_malformed_pull_secret_is_a_usage_error_that_quotes_nothing(data: bytes) -> None:
    with pytest.raises(UsageError) as info:
        StaticCredentials.from_docker_config_json(data, origin="secret ns/pull")
    assert "hunter2" not in str(info.value)
    assert str(info.value).startswith("secret ns/pull")

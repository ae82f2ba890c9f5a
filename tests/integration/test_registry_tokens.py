"""Token requests against real HTTP servers on loopback (pytest-httpserver): they never follow a
redirect to another origin, and a token is only ever used with the credentials that fetched it."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from provcheck.errors import RegistryError
from provcheck.oci import mediatypes as mt
from provcheck.oci.reference import ImageReference
from provcheck.source.registry import (
    Credentials,
    RegistryClient,
    RegistryOptions,
    StaticCredentials,
)
from provcheck.source.registry.auth import AuthState

INDEX = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
MANIFEST = "/v2/lab/x/manifests/1"


@pytest.fixture
def elsewhere() -> Iterator[HTTPServer]:
    """Another origin (127.0.0.2), where a hostile token server would send the request."""
    server = HTTPServer(host="127.0.0.2", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def options(tmp_path: Path) -> RegistryOptions:
    # tag_window 0: each resolution of a tag is a request, so that every one shows its token.
    return RegistryOptions(docker_config_dir=tmp_path, backoff_base=0.0, tag_window=0.0)


def _config(tmp_path: Path, server: HTTPServer, entry: dict[str, str]) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"auths": {_host(server): entry}}))


def _host(server: HTTPServer) -> str:
    return f"{server.host}:{server.port}"


def _ref(server: HTTPServer) -> ImageReference:
    return ImageReference.parse(f"{_host(server)}/lab/x:1")


def _challenging_registry(server: HTTPServer, realm: str) -> None:
    def registry(request: Request) -> Response:
        if request.headers.get("Authorization", "").startswith("Bearer "):
            return Response(INDEX, content_type=mt.OCI_INDEX)
        challenge = f'Bearer realm="{realm}",service="svc"'
        return Response("", status=401, headers={"WWW-Authenticate": challenge})

    server.expect_request(MANIFEST).respond_with_handler(registry)


@pytest.mark.parametrize(
    ("entry", "method"),
    [
        ({"identitytoken": "REFRESH-TOKEN-never-leaves"}, "POST"),  # OAuth2 refresh grant
        ({"username": "u", "password": "PASSWORD-never-leaves"}, "GET"),  # Basic
    ],
)
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_token_request_never_follows_a_redirect_to_another_origin(
    httpserver: HTTPServer,
    elsewhere: HTTPServer,
    options: RegistryOptions,
    tmp_path: Path,
    entry: dict[str, str],
    method: str,
    status: int,
) -> None:
    _config(tmp_path, httpserver, entry)
    _challenging_registry(httpserver, httpserver.url_for("/token"))
    httpserver.expect_request("/token", method=method).respond_with_data(
        "", status=status, headers={"Location": elsewhere.url_for("/steal")}
    )
    elsewhere.expect_request("/steal").respond_with_json({"token": "stolen"})

    async def run() -> None:
        async with RegistryClient(options) as client:
            with pytest.raises(RegistryError, match="redirected the token request") as info:
                await client.source(_ref(httpserver)).resolve("1")
        assert "never-leaves" not in str(info.value)

    asyncio.run(run())
    assert elsewhere.log == []


def test_token_request_follows_a_redirect_on_its_own_origin(
    httpserver: HTTPServer, options: RegistryOptions, tmp_path: Path
) -> None:
    _config(tmp_path, httpserver, {"identitytoken": "refresh"})
    _challenging_registry(httpserver, httpserver.url_for("/token"))
    httpserver.expect_request("/token").respond_with_data(
        "", status=307, headers={"Location": "/token/v2"}
    )
    httpserver.expect_request("/token/v2", method="POST").respond_with_json({"token": "t"})

    async def run() -> None:
        async with RegistryClient(options) as client:
            descriptor, _ = await client.source(_ref(httpserver)).resolve("1")
            assert descriptor.size == len(INDEX)

    asyncio.run(run())
    posted = [r for r, _ in httpserver.log if r.path == "/token/v2"]
    assert [r.form.get("refresh_token") for r in posted] == ["refresh"]


# --- one client, two credential sets ---------------------------------------------------------


def _basic_user(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    return base64.b64decode(header[6:]).decode().split(":", 1)[0]


def _tenant_registry(server: HTTPServer) -> list[str]:
    """A registry whose token server issues ``tok-<user>`` to each Basic user, and whose manifest
    names the user whose token was presented. Returns the token server's log of users."""
    users: list[str] = []

    def token(request: Request) -> Response:
        user = _basic_user(request)
        if user is None:
            return Response("", status=401)
        users.append(user)
        return Response(json.dumps({"token": f"tok-{user}", "expires_in": 300}))

    def registry(request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer tok-"):
            challenge = (
                f'Bearer realm="{server.url_for("/token")}",service="svc",'
                'scope="repository:lab/x:pull"'
            )
            return Response("", status=401, headers={"WWW-Authenticate": challenge})
        index = {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [],
            "annotations": {"served-to": header.removeprefix("Bearer tok-")},
        }
        return Response(json.dumps(index), content_type=mt.OCI_INDEX)

    server.expect_request("/token").respond_with_handler(token)
    server.expect_request(MANIFEST).respond_with_handler(registry)
    return users


def _tenants(server: HTTPServer) -> dict[str, StaticCredentials]:
    return {
        user: StaticCredentials(
            {_host(server): Credentials(username=user, password=f"{user}-secret", origin=user)}
        )
        for user in ("alice", "bob")
    }


def _served_to(body: bytes) -> str:
    served: str = json.loads(body)["annotations"]["served-to"]
    return served


def test_one_client_never_hands_one_tenants_token_to_another(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    users = _tenant_registry(httpserver)
    tenants = _tenants(httpserver)

    async def run() -> None:
        async with RegistryClient(options) as client:
            for user in ("alice", "bob", "alice", "bob"):
                source = client.source(_ref(httpserver), credentials=tenants[user])
                _, body = await source.resolve("1")
                assert _served_to(body) == user

    asyncio.run(run())
    assert users == ["alice", "bob"]  # each token fetched once, with its own credentials
    sent = [r.headers.get("Authorization") for r, _ in httpserver.log if r.path == MANIFEST]
    assert sent == [
        None,
        "Bearer tok-alice",
        None,
        "Bearer tok-bob",
        "Bearer tok-alice",
        "Bearer tok-bob",
    ]


def test_concurrent_tenants_on_one_client(httpserver: HTTPServer, options: RegistryOptions) -> None:
    users = _tenant_registry(httpserver)
    tenants = _tenants(httpserver)

    async def run() -> None:
        async with RegistryClient(options) as client:
            order = ["alice", "bob"] * 8
            sources = [client.source(_ref(httpserver), credentials=tenants[u]) for u in order]
            results = await asyncio.gather(*(s.resolve("1") for s in sources))
            assert [_served_to(body) for _, body in results] == order

    asyncio.run(run())
    assert sorted(users) == ["alice", "bob"]  # one token fetch per credential set


def test_fingerprints_are_keyed_hashes_without_secrets() -> None:
    import httpx

    def state() -> AuthState:
        return AuthState(insecure=frozenset(), user_agent="t", timeout=httpx.Timeout(1.0))

    one, other = state(), state()
    alice = Credentials(username="alice", password="pa55-secret")
    assert one.fingerprint(alice) == one.fingerprint(
        Credentials(username="alice", password="pa55-secret")
    )
    assert one.fingerprint(alice) != one.fingerprint(
        Credentials(username="alice", password="other")
    )
    assert one.fingerprint(alice) != one.fingerprint(Credentials(identity_token="pa55-secret"))
    assert one.fingerprint(alice) != other.fingerprint(alice)  # the key is per client
    assert one.fingerprint(None) == "anonymous"
    assert "pa55" not in one.fingerprint(alice) and len(one.fingerprint(alice)) == 32


def test_library_calls_on_one_client_keep_tenants_apart(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    from provcheck.api import inspect_image_async
    from provcheck.oci.digest import Digest

    users = _tenant_registry(httpserver)
    tenants = _tenants(httpserver)

    def served(user: str) -> Digest:
        index = {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [],
            "annotations": {"served-to": user},
        }
        return Digest.of(json.dumps(index).encode())

    async def run() -> None:
        async with RegistryClient(options) as client:
            order = ["bob", "alice"] * 4
            found = await asyncio.gather(
                *(
                    inspect_image_async(
                        str(_ref(httpserver)), client=client, credentials=tenants[u]
                    )
                    for u in order
                )
            )
            assert [f.digest for f in found] == [served(u) for u in order]

    asyncio.run(run())
    assert sorted(users) == ["alice", "bob"]

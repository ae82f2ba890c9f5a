"""RegistryClient against a real HTTP server on loopback (pytest-httpserver)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from provcheck.errors import (
    AuthenticationError,
    ContentTooLargeError,
    IntegrityError,
    ManifestError,
    NotFoundError,
    RegistryHTTPError,
)
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.oci.reference import ImageReference
from provcheck.source.base import MANIFEST_MAX_BYTES
from provcheck.source.registry import RegistryClient, RegistryOptions

pytestmark = pytest.mark.anyio

REPO = "lab/x"
INDEX = json.dumps(
    {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}, separators=(",", ":")
).encode()
INDEX_DIGEST = Digest.of(INDEX)
BLOB = b"layer bytes " * 10
BLOB_DESC = Descriptor(mt.IN_TOTO, Digest.of(BLOB), len(BLOB))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def docker_config(tmp_path: Path) -> Path:
    path = tmp_path / "docker"
    path.mkdir()
    return path


@pytest.fixture
def options(tmp_path: Path, docker_config: Path) -> RegistryOptions:
    return RegistryOptions(
        docker_config_dir=docker_config,
        certs_dir=tmp_path / "certs.d",
        backoff_base=0.0,
        max_retry_after=0.05,
        timeout=5.0,
        connect_timeout=2.0,
        tag_window=0.0,  # each resolution of a tag is a request: these tests count them
        store_window=0.0,  # and each signature-store lookup
    )


@pytest.fixture
def other_server() -> Iterator[HTTPServer]:
    """A second server on another host (127.0.0.2), standing in for blob storage."""
    server = HTTPServer(host="127.0.0.2", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


def endpoint(server: HTTPServer) -> str:
    return f"{server.host}:{server.port}"


def reference(server: HTTPServer, repository: str = REPO) -> ImageReference:
    return ImageReference.parse(f"{endpoint(server)}/{repository}:1")


def write_config(directory: Path, doc: dict[str, Any]) -> None:
    (directory / "config.json").write_text(json.dumps(doc))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def manifest_path(ref: str, repository: str = REPO) -> str:
    return f"/v2/{repository}/manifests/{ref}"


def blob_path(digest: Digest, repository: str = REPO) -> str:
    return f"/v2/{repository}/blobs/{digest}"


def serve_index(server: HTTPServer, ref: str = "1", **headers: str) -> None:
    server.expect_ordered_request(
        manifest_path(ref), method="GET", headers={"Accept": mt.MANIFEST_ACCEPT}
    ).respond_with_data(INDEX, content_type=mt.OCI_INDEX, headers=headers)


# --- manifests -----------------------------------------------------------------------------------


async def test_resolve_tag_sends_accept_and_pins_digest(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    serve_index(httpserver, **{"Docker-Content-Digest": str(INDEX_DIGEST)})
    async with RegistryClient(options) as client:
        source = client.source(reference(httpserver))
        descriptor, body = await source.resolve("1")
        assert client.requests_made == 1
    httpserver.check_assertions()
    assert body == INDEX
    assert descriptor == Descriptor(mt.OCI_INDEX, INDEX_DIGEST, len(INDEX))
    assert source.display_name == f"{endpoint(httpserver)}/{REPO}"
    assert httpserver.log[0][0].headers["User-Agent"].startswith("provcheck/")


async def test_resolve_by_digest_checks_the_body(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    wanted = Digest.of(b"something else")
    httpserver.expect_ordered_request(manifest_path(str(wanted))).respond_with_data(
        INDEX, content_type=mt.OCI_INDEX
    )
    async with RegistryClient(options) as client:
        with pytest.raises(IntegrityError, match="hashes to"):
            await client.source(reference(httpserver)).resolve(wanted)


async def test_resolve_by_digest_string(httpserver: HTTPServer, options: RegistryOptions) -> None:
    serve_index(httpserver, ref=str(INDEX_DIGEST))
    async with RegistryClient(options) as client:
        descriptor, _ = await client.source(reference(httpserver)).resolve(str(INDEX_DIGEST))
    assert descriptor.digest == INDEX_DIGEST


async def test_docker_content_digest_mismatch(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    serve_index(httpserver, **{"Docker-Content-Digest": str(Digest.of(b"other"))})
    async with RegistryClient(options) as client:
        with pytest.raises(IntegrityError, match="Docker-Content-Digest"):
            await client.source(reference(httpserver)).resolve("1")


async def test_content_type_parameters_are_ignored(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    httpserver.expect_request(manifest_path("1")).respond_with_data(
        INDEX, content_type=f"{mt.OCI_INDEX}; charset=utf-8"
    )
    async with RegistryClient(options) as client:
        descriptor, _ = await client.source(reference(httpserver)).resolve("1")
    assert descriptor.media_type == mt.OCI_INDEX


async def test_schema1_is_refused(httpserver: HTTPServer, options: RegistryOptions) -> None:
    httpserver.expect_request(manifest_path("1")).respond_with_data(
        b'{"schemaVersion":1}', content_type=mt.DOCKER_SCHEMA1_SIGNED
    )
    async with RegistryClient(options) as client:
        with pytest.raises(ManifestError, match="unsupported media type"):
            await client.source(reference(httpserver)).resolve("1")


async def test_manifest_over_4_mib_is_refused(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    big = b" " * (MANIFEST_MAX_BYTES + 1)
    httpserver.expect_request(manifest_path("1")).respond_with_data(big, content_type=mt.OCI_INDEX)

    def chunked(request: Request) -> Response:
        # No Content-Length: the cap must hold while streaming.
        return Response(iter([b" " * 65536] * 80), content_type=mt.OCI_INDEX)

    httpserver.expect_request(manifest_path("2")).respond_with_handler(chunked)
    async with RegistryClient(options) as client:
        source = client.source(reference(httpserver))
        with pytest.raises(ContentTooLargeError, match="4194304-byte limit"):
            await source.resolve("1")
        with pytest.raises(ContentTooLargeError, match="4194304-byte limit"):
            await source.resolve("2")


async def test_fetch_manifest_refuses_oversized_descriptor_before_any_request(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    descriptor = Descriptor(mt.OCI_MANIFEST, INDEX_DIGEST, MANIFEST_MAX_BYTES + 1)
    async with RegistryClient(options) as client:
        with pytest.raises(ContentTooLargeError):
            await client.source(reference(httpserver)).fetch_manifest(descriptor)
        with pytest.raises(ContentTooLargeError):
            await client.source(reference(httpserver)).fetch_blob(BLOB_DESC, len(BLOB) - 1)
        assert client.requests_made == 0
    assert httpserver.log == []


async def test_fetch_manifest_checks_content_type(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    path = manifest_path(str(INDEX_DIGEST))
    httpserver.expect_ordered_request(path).respond_with_data(INDEX, content_type=mt.OCI_MANIFEST)
    httpserver.expect_ordered_request(path).respond_with_data(INDEX, content_type="")
    httpserver.expect_ordered_request(
        path, headers={"Accept": mt.MANIFEST_ACCEPT}
    ).respond_with_data(INDEX, content_type=mt.OCI_INDEX)
    descriptor = Descriptor(mt.OCI_INDEX, INDEX_DIGEST, len(INDEX))
    async with RegistryClient(options) as client:
        source = client.source(reference(httpserver))
        with pytest.raises(ManifestError, match="served as"):
            await source.fetch_manifest(descriptor)
        assert await source.fetch_manifest(descriptor) == INDEX  # no Content-Type: accepted
        assert await source.fetch_manifest(descriptor) == INDEX
    httpserver.check_assertions()


async def test_fetch_manifest_size_mismatch(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    httpserver.expect_request(manifest_path(str(INDEX_DIGEST))).respond_with_data(
        INDEX, content_type=mt.OCI_INDEX
    )
    async with RegistryClient(options) as client:
        source = client.source(reference(httpserver))
        with pytest.raises(IntegrityError, match="descriptor says"):
            await source.fetch_manifest(Descriptor(mt.OCI_INDEX, INDEX_DIGEST, len(INDEX) - 1))
        with pytest.raises(IntegrityError, match="descriptor says"):
            await source.fetch_manifest(Descriptor(mt.OCI_INDEX, INDEX_DIGEST, len(INDEX) + 1))


# --- blobs ---------------------------------------------------------------------------------------


async def test_fetch_blob(httpserver: HTTPServer, options: RegistryOptions) -> None:
    httpserver.expect_ordered_request(blob_path(BLOB_DESC.digest), method="GET").respond_with_data(
        BLOB, content_type="application/octet-stream"
    )
    async with RegistryClient(options) as client:
        assert await client.source(reference(httpserver)).fetch_blob(BLOB_DESC, 1 << 20) == BLOB
    httpserver.check_assertions()


async def test_blob_digest_mismatch(httpserver: HTTPServer, options: RegistryOptions) -> None:
    tampered = b"X" + BLOB[1:]
    httpserver.expect_request(blob_path(BLOB_DESC.digest)).respond_with_data(tampered)
    async with RegistryClient(options) as client:
        with pytest.raises(IntegrityError, match="hashes to"):
            await client.source(reference(httpserver)).fetch_blob(BLOB_DESC, 1 << 20)


async def test_blob_longer_than_descriptor_stops_reading(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    sent: list[int] = []

    def endless(request: Request) -> Response:
        def body() -> Iterator[bytes]:
            for _ in range(10_000):  # 640 MB if anybody read it all
                sent.append(1)
                yield b"\0" * 65536

        return Response(body(), content_type="application/octet-stream")

    httpserver.expect_request(blob_path(BLOB_DESC.digest)).respond_with_handler(endless)
    httpserver.expect_request(blob_path(Digest.of(b"x"))).respond_with_data(BLOB + b"extra")
    async with RegistryClient(options) as client:
        source = client.source(reference(httpserver))
        with pytest.raises(IntegrityError, match="got at least"):
            await source.fetch_blob(BLOB_DESC, 1 << 30)
        with pytest.raises(IntegrityError, match="got at least"):  # refused by Content-Length
            await source.fetch_blob(Descriptor(mt.IN_TOTO, Digest.of(b"x"), len(BLOB)), 1 << 30)
    assert len(sent) < 100


async def test_not_found_names_what_is_missing(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    httpserver.expect_request(blob_path(BLOB_DESC.digest)).respond_with_json(
        {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry"}]}, status=404
    )
    httpserver.expect_request(manifest_path("nope")).respond_with_data(b"", status=404)
    async with RegistryClient(options) as client:
        source = client.source(reference(httpserver))
        with pytest.raises(NotFoundError) as info:
            await source.fetch_blob(BLOB_DESC, 1 << 20)
        assert info.value.status_code == 404
        message = str(info.value)
        assert BLOB_DESC.digest.short in message
        assert f"{endpoint(httpserver)}/{REPO}" in message
        assert "BLOB_UNKNOWN: blob unknown to registry" in message
        assert await source.fetch_tag("nope") is None
        assert client.requests_made == 2


async def test_other_status_is_registry_http_error(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    httpserver.expect_request(manifest_path("1")).respond_with_json(
        {"errors": [{"code": "UNKNOWN", "message": "x" * 500}]}, status=500
    )
    async with RegistryClient(options) as client:
        with pytest.raises(RegistryHTTPError) as info:
            await client.source(reference(httpserver)).resolve("1")
    assert info.value.status_code == 500
    assert type(info.value) is RegistryHTTPError
    assert len(str(info.value)) < 300


# --- retries -------------------------------------------------------------------------------------


async def test_429_with_retry_after_then_200(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    httpserver.expect_ordered_request(manifest_path("1")).respond_with_data(
        b"slow down", status=429, headers={"Retry-After": "1"}
    )
    serve_index(httpserver)
    started = time.monotonic()
    async with RegistryClient(options) as client:
        descriptor, _ = await client.source(reference(httpserver)).resolve("1")
        assert client.requests_made == 2
    assert time.monotonic() - started < 0.9  # Retry-After capped by max_retry_after
    assert descriptor.digest == INDEX_DIGEST
    httpserver.check_assertions()


async def test_503_then_200(httpserver: HTTPServer, options: RegistryOptions) -> None:
    httpserver.expect_ordered_request(blob_path(BLOB_DESC.digest)).respond_with_data(
        b"", status=503
    )
    httpserver.expect_ordered_request(blob_path(BLOB_DESC.digest)).respond_with_data(BLOB)
    async with RegistryClient(options) as client:
        assert await client.source(reference(httpserver)).fetch_blob(BLOB_DESC, 1 << 20) == BLOB
        assert client.requests_made == 2
    httpserver.check_assertions()


async def test_retries_are_bounded(httpserver: HTTPServer, options: RegistryOptions) -> None:
    httpserver.expect_request(blob_path(BLOB_DESC.digest)).respond_with_data(b"", status=502)
    async with RegistryClient(options) as client:
        with pytest.raises(RegistryHTTPError) as info:
            await client.source(reference(httpserver)).fetch_blob(BLOB_DESC, 1 << 20)
        assert client.requests_made == options.max_retries + 1
    assert info.value.status_code == 502
    assert len(httpserver.log) == options.max_retries + 1


# --- auth ----------------------------------------------------------------------------------------


def token_registry(
    server: HTTPServer,
    *,
    challenge: str,
    token: str = "T0KEN",
    check_token_request: Callable[[Request], bool] = lambda request: True,
    token_status: int = 200,
) -> dict[str, int]:
    """A registry that wants ``Bearer <token>`` and a realm that issues it."""
    calls = {"token": 0, "registry": 0}

    def registry(request: Request) -> Response:
        calls["registry"] += 1
        if request.headers.get("Authorization") != f"Bearer {token}":
            return Response(
                json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "auth required"}]}),
                status=401,
                headers={"WWW-Authenticate": challenge},
            )
        return Response(INDEX, content_type=mt.OCI_INDEX)

    def realm(request: Request) -> Response:
        calls["token"] += 1
        if token_status != 200 or not check_token_request(request):
            return Response("no", status=token_status if token_status != 200 else 401)
        return Response(json.dumps({"token": token, "expires_in": 300}), content_type="x/json")

    server.expect_request("/token").respond_with_handler(realm)
    server.expect_request(manifest_path("1")).respond_with_handler(registry)
    return calls


async def test_anonymous_token_flow_and_cache(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    realm = httpserver.url_for("/token")
    seen: list[Request] = []

    def check(request: Request) -> bool:
        seen.append(request)
        return (
            request.method == "GET"
            and "Authorization" not in request.headers
            and request.args.get("service") == "test-registry"
            and request.args.getlist("scope") == ["repository:lab/x:pull"]
        )

    calls = token_registry(
        httpserver,
        challenge=f'Bearer realm="{realm}",service="test-registry",scope="repository:lab/x:pull"',
        check_token_request=check,
    )
    async with RegistryClient(options) as client:
        source = client.source(reference(httpserver))
        await source.resolve("1")
        assert client.requests_made == 3  # 401, token, retry
        await source.resolve("1")  # the cached token is sent up front
        assert client.requests_made == 4
        await client.source(reference(httpserver)).resolve("1")  # shared across sources
        assert client.requests_made == 5
    assert calls == {"token": 1, "registry": 4}
    assert len(seen) == 1


async def test_token_flow_with_credentials_and_default_scope(
    httpserver: HTTPServer, options: RegistryOptions, docker_config: Path
) -> None:
    write_config(
        docker_config,
        {"auths": {endpoint(httpserver): {"auth": base64.b64encode(b"alice:s3cret").decode()}}},
    )

    def check(request: Request) -> bool:
        return request.headers.get("Authorization") == basic("alice", "s3cret") and (
            request.args.getlist("scope") == ["repository:lab/x:pull"]  # not in the challenge
        )

    calls = token_registry(
        httpserver,
        challenge=f'Bearer realm="{httpserver.url_for("/token")}",service="svc"',
        check_token_request=check,
    )
    async with RegistryClient(options) as client:
        descriptor, _ = await client.source(reference(httpserver)).resolve("1")
    assert descriptor.digest == INDEX_DIGEST
    assert calls == {"token": 1, "registry": 2}


async def test_identity_token_uses_refresh_grant(
    httpserver: HTTPServer, options: RegistryOptions, docker_config: Path
) -> None:
    write_config(docker_config, {"auths": {endpoint(httpserver): {"identitytoken": "refresh-me"}}})

    def check(request: Request) -> bool:
        return (
            request.method == "POST"
            and request.form.get("grant_type") == "refresh_token"
            and request.form.get("refresh_token") == "refresh-me"
            and request.form.get("service") == "svc"
            and request.form.get("scope") == "repository:lab/x:pull repository:lab/y:pull"
        )

    calls = token_registry(
        httpserver,
        challenge=(
            f'Bearer realm="{httpserver.url_for("/token")}",service="svc",'
            'scope="repository:lab/x:pull repository:lab/y:pull"'
        ),
        check_token_request=check,
    )
    async with RegistryClient(options) as client:
        await client.source(reference(httpserver)).resolve("1")
    assert calls == {"token": 1, "registry": 2}


async def test_token_server_refusal(
    httpserver: HTTPServer, options: RegistryOptions, docker_config: Path
) -> None:
    write_config(docker_config, {"auths": {endpoint(httpserver): {"auth": "Ym9iOnB3MTIz"}}})
    token_registry(
        httpserver,
        challenge=f'Bearer realm="{httpserver.url_for("/token")}",service="svc"',
        token_status=401,
    )
    async with RegistryClient(options) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.source(reference(httpserver)).resolve("1")
    message = str(info.value)
    assert "refused the credentials" in message
    assert "pw123" not in message and "Ym9iOnB3MTIz" not in message


async def test_credentials_never_go_to_a_plain_http_realm(
    httpserver: HTTPServer, options: RegistryOptions, docker_config: Path
) -> None:
    write_config(
        docker_config, {"auths": {endpoint(httpserver): {"username": "u", "password": "pw"}}}
    )
    httpserver.expect_request(manifest_path("1")).respond_with_data(
        b"",
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="http://auth.example.invalid/token"'},
    )
    async with RegistryClient(options) as client:
        with pytest.raises(AuthenticationError, match="over plain HTTP"):
            await client.source(reference(httpserver)).resolve("1")
        assert client.requests_made == 1


async def test_401_after_authentication(httpserver: HTTPServer, options: RegistryOptions) -> None:
    calls = token_registry(
        httpserver,
        challenge=f'Bearer realm="{httpserver.url_for("/token")}",service="svc"',
        token="expected",
    )
    # The realm issues a token the registry does not accept.
    httpserver.clear_all_handlers()
    httpserver.expect_request("/token").respond_with_json({"access_token": "wrong-token"})
    httpserver.expect_request(manifest_path("1")).respond_with_data(
        b"",
        status=401,
        headers={"WWW-Authenticate": f'Bearer realm="{httpserver.url_for("/token")}"'},
    )
    async with RegistryClient(options) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.source(reference(httpserver)).resolve("1")
        assert client.requests_made == 3  # no endless loop
    assert info.value.status_code == 401
    assert endpoint(httpserver) in str(info.value)
    assert "anonymously" in str(info.value)
    assert "wrong-token" not in str(info.value)
    assert httpserver.log[-1][0].headers["Authorization"] == "Bearer wrong-token"
    assert calls["registry"] == 0


async def test_403(httpserver: HTTPServer, options: RegistryOptions) -> None:
    httpserver.expect_request(manifest_path("1")).respond_with_json(
        {"errors": [{"code": "DENIED", "message": "requested access to the resource is denied"}]},
        status=403,
    )
    async with RegistryClient(options) as client:
        with pytest.raises(AuthenticationError, match="denied") as info:
            await client.source(reference(httpserver)).resolve("1")
    assert info.value.status_code == 403


async def test_basic_challenge(
    httpserver: HTTPServer, options: RegistryOptions, docker_config: Path
) -> None:
    def registry(request: Request) -> Response:
        if request.headers.get("Authorization") != basic("carol", "pa:ss"):
            return Response("", status=401, headers={"WWW-Authenticate": 'Basic realm="reg"'})
        return Response(INDEX, content_type=mt.OCI_INDEX)

    httpserver.expect_request(manifest_path("1")).respond_with_handler(registry)
    async with RegistryClient(options) as client:
        with pytest.raises(AuthenticationError, match="requires credentials"):
            await client.source(reference(httpserver)).resolve("1")
    write_config(
        docker_config,
        {"auths": {f"http://{endpoint(httpserver)}": {"username": "carol", "password": "pa:ss"}}},
    )
    async with RegistryClient(options) as client:
        source = client.source(reference(httpserver))
        await source.resolve("1")
        assert client.requests_made == 2
        await source.resolve("1")  # Basic is sent up front from now on
        assert client.requests_made == 3


# --- redirects -----------------------------------------------------------------------------------


async def test_blob_redirect_to_another_host_drops_authorization(
    httpserver: HTTPServer, other_server: HTTPServer, options: RegistryOptions
) -> None:
    def registry(request: Request) -> Response:
        if request.headers.get("Authorization") != "Bearer T0KEN":
            challenge = f'Bearer realm="{httpserver.url_for("/token")}",service="svc"'
            return Response("", status=401, headers={"WWW-Authenticate": challenge})
        location = other_server.url_for("/storage/blob?sig=abc")
        return Response("", status=307, headers={"Location": location})

    httpserver.expect_request("/token").respond_with_json({"token": "T0KEN"})
    httpserver.expect_request(blob_path(BLOB_DESC.digest)).respond_with_handler(registry)
    other_server.expect_request("/storage/blob", query_string="sig=abc").respond_with_data(BLOB)
    async with RegistryClient(options) as client:
        assert await client.source(reference(httpserver)).fetch_blob(BLOB_DESC, 1 << 20) == BLOB
        assert client.requests_made == 4  # 401, token, 307, storage
    assert httpserver.log[-1][0].headers.get("Authorization") == "Bearer T0KEN"
    assert len(other_server.log) == 1
    assert "Authorization" not in other_server.log[0][0].headers


async def test_debug_log_names_requests_without_queries_or_tokens(
    httpserver: HTTPServer,
    other_server: HTTPServer,
    options: RegistryOptions,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Presigned redirect targets carry credentials in their query: never logged."""
    location = other_server.url_for("/storage/blob?X-Amz-Signature=SECRETSIG")
    httpserver.expect_request(blob_path(BLOB_DESC.digest)).respond_with_data(
        "", status=307, headers={"Location": location}
    )
    other_server.expect_request("/storage/blob").respond_with_data(BLOB)
    caplog.set_level("DEBUG", logger="provcheck")
    async with RegistryClient(options) as client:
        assert await client.source(reference(httpserver)).fetch_blob(BLOB_DESC, 1 << 20) == BLOB
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("provcheck"))
    assert "GET http://" in ours and "/storage/blob -> 200" in ours
    assert "SECRETSIG" not in ours


async def test_401_from_redirect_target_is_not_answered(
    httpserver: HTTPServer, other_server: HTTPServer, options: RegistryOptions, docker_config: Path
) -> None:
    write_config(docker_config, {"auths": {endpoint(httpserver): {"auth": "dTpw"}}})
    httpserver.expect_request(blob_path(BLOB_DESC.digest)).respond_with_data(
        "", status=302, headers={"Location": other_server.url_for("/b")}
    )
    other_server.expect_request("/b").respond_with_data(
        "", status=401, headers={"WWW-Authenticate": f'Basic realm="{other_server.url_for("/")}"'}
    )
    async with RegistryClient(options) as client:
        with pytest.raises(AuthenticationError):
            await client.source(reference(httpserver)).fetch_blob(BLOB_DESC, 1 << 20)
    assert [r.headers.get("Authorization") for r, _ in other_server.log] == [None]


async def test_redirects_are_bounded(httpserver: HTTPServer, options: RegistryOptions) -> None:
    httpserver.expect_request(blob_path(BLOB_DESC.digest)).respond_with_data(
        "", status=307, headers={"Location": blob_path(BLOB_DESC.digest)}
    )
    async with RegistryClient(options) as client:
        with pytest.raises(Exception, match="too many redirects") as info:
            await client.source(reference(httpserver)).fetch_blob(BLOB_DESC, 1 << 20)
        assert client.requests_made == options.max_redirects + 1
    assert type(info.value).__module__ == "provcheck.errors"


# --- referrers -----------------------------------------------------------------------------------


async def test_referrers_unsupported(httpserver: HTTPServer, options: RegistryOptions) -> None:
    digest = INDEX_DIGEST
    path = f"/v2/{REPO}/referrers/{digest}"
    httpserver.expect_ordered_request(path).respond_with_json(
        {"errors": [{"code": "NOT_FOUND"}]}, status=404
    )
    httpserver.expect_ordered_request(path).respond_with_data("", status=405)
    httpserver.expect_ordered_request(path).respond_with_data(
        "<html>hello</html>", content_type="text/html"
    )
    async with RegistryClient(options) as client:
        source = client.source(reference(httpserver))
        assert await source.referrers(digest) is None
        assert await source.referrers(digest) is None
        assert await source.referrers(digest) is None
    httpserver.check_assertions()


def _referrer(n: int) -> dict[str, Any]:
    return {
        "mediaType": mt.OCI_MANIFEST,
        "digest": str(Digest.of(str(n).encode())),
        "size": n,
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
    }


async def test_referrers_pagination(httpserver: HTTPServer, options: RegistryOptions) -> None:
    path = f"/v2/{REPO}/referrers/{INDEX_DIGEST}"
    page1 = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [_referrer(1)]}
    page2 = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [_referrer(2)]}
    httpserver.expect_ordered_request(path, headers={"Accept": mt.OCI_INDEX}).respond_with_json(
        page1, content_type=mt.OCI_INDEX, headers={"Link": f'<{path}?n=1&last=x>; rel="next"'}
    )
    httpserver.expect_ordered_request(path, query_string="n=1&last=x").respond_with_json(
        page2, content_type=mt.OCI_INDEX
    )
    async with RegistryClient(options) as client:
        found = await client.source(reference(httpserver)).referrers(INDEX_DIGEST)
        assert client.requests_made == 2
    httpserver.check_assertions()
    assert found is not None
    assert [d.size for d in found] == [1, 2]
    assert found[0].artifact_type == "application/vnd.dev.sigstore.bundle.v0.3+json"


async def test_referrers_link_to_another_host_is_refused(
    httpserver: HTTPServer, other_server: HTTPServer, options: RegistryOptions
) -> None:
    path = f"/v2/{REPO}/referrers/{INDEX_DIGEST}"
    page = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}
    httpserver.expect_request(path).respond_with_json(
        page, headers={"Link": f'<{other_server.url_for(path)}>; rel="next"'}
    )
    async with RegistryClient(options) as client:
        with pytest.raises(ManifestError, match="another host"):
            await client.source(reference(httpserver)).referrers(INDEX_DIGEST)
    assert other_server.log == []


def test_digest_helper_matches_hashlib() -> None:
    assert INDEX_DIGEST.hex == hashlib.sha256(INDEX).hexdigest()


async def test_concurrent_requests_fetch_one_token(
    httpserver: HTTPServer, options: RegistryOptions
) -> None:
    import asyncio

    calls = token_registry(
        httpserver, challenge=f'Bearer realm="{httpserver.url_for("/token")}",service="svc"'
    )
    async with RegistryClient(options) as client:
        source = client.source(reference(httpserver))
        results = await asyncio.gather(*(source.resolve("1") for _ in range(12)))
    assert {d.digest for d, _ in results} == {INDEX_DIGEST}
    assert calls["token"] == 1


def test_public_api() -> None:
    import provcheck.source.registry as registry

    assert registry.__all__ == sorted(registry.__all__)
    assert all(hasattr(registry, name) for name in registry.__all__)

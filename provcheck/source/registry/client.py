"""``RegistryClient`` (connections, TLS, credentials, tokens) and ``RegistrySource`` (one
repository, implementing :class:`provcheck.source.base.Source`)."""

from __future__ import annotations

import re
from types import TracebackType
from typing import Final

import httpx

from provcheck.errors import (
    ContentTooLargeError,
    IntegrityError,
    InvalidReferenceError,
    ManifestError,
    NotFoundError,
    RegistryError,
    RegistryHTTPError,
)
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor, ImageIndex, load_json, parse_manifest
from provcheck.oci.reference import ImageReference
from provcheck.source.base import MANIFEST_MAX_BYTES, check_cap, verify_content
from provcheck.source.deadline import Deadline
from provcheck.source.registry.auth import AuthState, RegistryAuth, refuse_token_redirects
from provcheck.source.registry.connection import (
    SchemePolicy,
    TLSFallback,
    endpoint_transport,
    scheme_policy,
)
from provcheck.source.registry.credentials import CredentialProvider, DockerCredentials
from provcheck.source.registry.options import RegistryOptions
from provcheck.source.registry.transport import Fetched, OverLimit, fetch

MAX_REFERRER_PAGES: Final = 64
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_UNSUPPORTED_REFERRERS: Final = frozenset({400, 404, 405, 406, 501})


def _media_type(content_type: str | None) -> str:
    """``Content-Type`` without parameters, lowercased; ``""`` when absent."""
    return (content_type or "").split(";", 1)[0].strip().lower()


class RegistryClient:
    """Talks to OCI registries: one ``httpx.AsyncClient`` per endpoint, shared token cache.

    Use one per process or session, for any number of images, and close it with :meth:`aclose`
    (or ``async with``). ``credentials`` is where credentials come from unless a source names
    its own (default: Docker's ``config.json``). ``transport`` replaces the network, for
    fault-injection tests only.
    """

    def __init__(
        self,
        options: RegistryOptions | None = None,
        *,
        credentials: CredentialProvider | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.options = options or RegistryOptions()
        self._transport = transport
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._fallbacks: dict[str, TLSFallback] = {}
        self._requests = 0
        self._closed = False
        self.credentials: CredentialProvider = credentials or DockerCredentials(
            self.options.docker_config_dir, helper_timeout=self.options.credential_helper_timeout
        )
        self._timeout = httpx.Timeout(
            self.options.timeout,
            connect=self.options.connect_timeout,
            pool=self.options.pool_timeout,
        )
        self._auth = AuthState(
            insecure=frozenset(e.lower() for e in self.options.insecure_registries),
            user_agent=self.options.user_agent,
            timeout=self._timeout,
        )

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far, including token requests, retries and redirects."""
        return self._requests

    def source(
        self,
        reference: ImageReference,
        *,
        credentials: CredentialProvider | None = None,
        deadline: Deadline | None = None,
    ) -> RegistrySource:
        """A :class:`Source` for the repository of ``reference`` (its tag/digest are ignored).

        ``credentials`` replaces the client's provider for this source (tokens fetched with
        other credentials are never used for it); ``deadline`` bounds its waits and names what
        was pending when it runs out (see :class:`~provcheck.source.deadline.Deadline`).
        """
        return RegistrySource(
            self, reference, credentials=credentials or self.credentials, deadline=deadline
        )

    async def aclose(self) -> None:
        """Close every connection. The client cannot be used afterwards."""
        self._closed = True
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def base_url(self, endpoint: str) -> str:
        """``scheme://endpoint`` for ``endpoint`` (see :func:`scheme_policy`): ``https`` until
        a loopback endpoint has shown that it speaks plain HTTP only."""
        policy = scheme_policy(endpoint, self.options)
        fallback = self._fallbacks.get(endpoint)
        plain = policy is SchemePolicy.HTTP or (fallback is not None and fallback.plain)
        return f"{'http' if plain else 'https'}://{endpoint}"

    async def _count(self, request: httpx.Request) -> None:
        self._requests += 1

    def http_client(self, endpoint: str) -> httpx.AsyncClient:
        """The (lazily created) HTTP client of ``endpoint``.

        Raises :class:`UsageError` for bad certificate files, :class:`RuntimeError` after
        :meth:`aclose`.
        """
        if self._closed:
            raise RuntimeError("RegistryClient is closed")
        client = self._clients.get(endpoint)
        if client is None:
            policy = scheme_policy(endpoint, self.options)
            limits = httpx.Limits(
                max_connections=self.options.max_connections,
                max_keepalive_connections=self.options.max_connections,
            )
            transport = self._transport or endpoint_transport(
                endpoint, policy, self.options, limits
            )
            if policy is SchemePolicy.HTTPS_THEN_HTTP:
                transport = self._fallbacks[endpoint] = TLSFallback(transport, endpoint)
            client = httpx.AsyncClient(
                http1=True,
                http2=False,
                timeout=self._timeout,
                limits=limits,
                follow_redirects=True,
                max_redirects=self.options.max_redirects,
                headers={"User-Agent": self.options.user_agent},
                event_hooks={"request": [self._count, refuse_token_redirects]},
                transport=transport,
            )
            self._clients[endpoint] = client
        return client


class RegistrySource:
    """The content of one repository in a registry (implements ``Source``).

    Every method raises :class:`NotFoundError`, :class:`AuthenticationError`,
    :class:`RegistryHTTPError`, :class:`RegistryConnectionError` (see
    :func:`~provcheck.source.registry.transport.fetch`), :class:`IntegrityError` for bytes that do
    not match, :class:`ContentTooLargeError` over a cap, :class:`ManifestError` for a manifest of
    an unsupported media type.
    """

    def __init__(
        self,
        client: RegistryClient,
        reference: ImageReference,
        *,
        credentials: CredentialProvider,
        deadline: Deadline | None = None,
    ) -> None:
        self._client = client
        self._credentials = credentials
        self._deadline = deadline
        self._registry = reference.registry
        self._endpoint = reference.endpoint
        self._repository = reference.repository

    @property
    def _base(self) -> str:
        return f"{self._client.base_url(self._endpoint)}/v2/{self._repository}"

    @property
    def display_name(self) -> str:
        """``registry/repository``."""
        return f"{self._registry}/{self._repository}"

    def _auth(self) -> RegistryAuth:
        return RegistryAuth(
            self._client._auth,  # one package
            self._credentials,
            endpoint=self._endpoint,
            registry=self._registry,
            repository=self._repository,
            deadline=self._deadline,
        )

    async def _get(
        self, url: str, *, accept: str | None, limit: int, over_limit: OverLimit, what: str
    ) -> Fetched:
        return await fetch(
            self._client.http_client(self._endpoint),
            url,
            accept=accept,
            limit=limit,
            over_limit=over_limit,
            make_auth=self._auth,
            what=what,
            where=self.display_name,
            host=self._endpoint,
            options=self._client.options,
            deadline=self._deadline,
        )

    def _too_large(self, what: str) -> OverLimit:
        def build(seen: int) -> ContentTooLargeError:
            return ContentTooLargeError(
                f"{what} in {self.display_name} is over the {MANIFEST_MAX_BYTES}-byte limit "
                f"(at least {seen} bytes)"
            )

        return build

    def _longer_than(self, descriptor: Descriptor) -> OverLimit:
        def build(seen: int) -> IntegrityError:
            return IntegrityError(
                f"{descriptor.digest.short} in {self.display_name}: got at least {seen} bytes, "
                f"descriptor says {descriptor.size}"
            )

        return build

    def _check_header_digest(self, fetched: Fetched, actual: Digest, what: str) -> None:
        header = fetched.headers.get("docker-content-digest")
        if header is None:
            return
        try:
            claimed = Digest.parse(header.strip())
        except ManifestError:
            raise IntegrityError(
                f"{what} in {self.display_name}: malformed Docker-Content-Digest {header[:80]!r}"
            ) from None
        if claimed.algorithm != actual.algorithm:
            actual = Digest.of(fetched.body, claimed.algorithm)
        if claimed != actual:
            raise IntegrityError(
                f"{what} in {self.display_name}: Docker-Content-Digest {claimed.short} does not "
                f"match the body ({actual.short})"
            )

    async def resolve(self, reference: str | Digest) -> tuple[Descriptor, bytes]:
        """Fetch the manifest named by a tag or digest; return its descriptor and bytes.

        One ``GET`` and no ``HEAD`` first: the GET by tag returns the bytes whose hash pins the
        digest, so a HEAD would only add a request (and the benchmark counts requests).
        Raises :class:`InvalidReferenceError` for a malformed tag, else as the class says.
        """
        expected: Digest | None
        if isinstance(reference, Digest):
            expected, ref = reference, str(reference)
        elif ":" in reference:
            try:
                expected = Digest.parse(reference)
            except ManifestError as exc:
                raise InvalidReferenceError(f"invalid digest {reference[:80]!r}: {exc}") from exc
            ref = str(expected)
        elif _TAG.fullmatch(reference):
            expected, ref = None, reference
        else:
            raise InvalidReferenceError(f"invalid tag {reference[:80]!r}")
        what = f"manifest {expected.short if expected else ref}"
        fetched = await self._get(
            f"{self._base}/manifests/{ref}",
            accept=mt.MANIFEST_ACCEPT,
            limit=MANIFEST_MAX_BYTES,
            over_limit=self._too_large(what),
            what=what,
        )
        body = fetched.body
        if expected is not None:
            expected.verify(body)
            digest = expected
        else:
            digest = Digest.of(body)
        self._check_header_digest(fetched, digest, what)
        media_type = _media_type(fetched.headers.get("content-type"))
        if media_type not in mt.ALL_MANIFEST_TYPES:
            media_type = self._media_type_from_body(body, media_type, what)
        return Descriptor(media_type, digest, len(body)), body

    def _media_type_from_body(self, body: bytes, served: str, what: str) -> str:
        """Media type of a manifest served without a usable ``Content-Type``."""
        if served in ("", "application/json", "application/octet-stream", "text/plain"):
            doc = load_json(body, f"{what} in {self.display_name}")
            declared = doc.get("mediaType") if isinstance(doc, dict) else None
            if isinstance(declared, str) and declared in mt.ALL_MANIFEST_TYPES:
                return declared
            served = str(declared) if declared else served
        raise ManifestError(
            f"{what} in {self.display_name} has unsupported media type {served[:100]!r}"
        )

    async def fetch_manifest(self, descriptor: Descriptor) -> bytes:
        """Fetch a manifest or index by digest, checking size, digest and ``Content-Type``."""
        check_cap(descriptor, MANIFEST_MAX_BYTES)
        what = f"manifest {descriptor.digest.short}"
        fetched = await self._get(
            f"{self._base}/manifests/{descriptor.digest}",
            accept=mt.MANIFEST_ACCEPT,
            limit=descriptor.size,
            over_limit=self._longer_than(descriptor),
            what=what,
        )
        body = verify_content(descriptor, fetched.body)
        self._check_header_digest(fetched, descriptor.digest, what)
        served = _media_type(fetched.headers.get("content-type"))
        if served and served != descriptor.media_type.lower():
            raise ManifestError(
                f"{what} in {self.display_name} was served as {served[:100]!r}, "
                f"its descriptor says {descriptor.media_type!r}"
            )
        return body

    async def fetch_blob(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        """Fetch a blob by digest; never reads more than its size (or ``max_bytes``)."""
        check_cap(descriptor, max_bytes)
        limit = min(descriptor.size, max_bytes)
        fetched = await self._get(
            f"{self._base}/blobs/{descriptor.digest}",
            accept=None,
            limit=limit,
            over_limit=self._longer_than(descriptor),
            what=f"blob {descriptor.digest.short}",
        )
        return verify_content(descriptor, fetched.body)

    async def fetch_tag(self, tag: str) -> tuple[Descriptor, bytes] | None:
        """Like :meth:`resolve` for a tag, but ``None`` when the tag does not exist."""
        if not _TAG.fullmatch(tag):
            raise InvalidReferenceError(f"invalid tag {tag[:80]!r}")
        try:
            return await self.resolve(tag)
        except NotFoundError:
            return None

    async def referrers(self, digest: Digest) -> tuple[Descriptor, ...] | None:
        """Descriptors from ``GET /v2/<name>/referrers/<digest>``, following ``Link`` pages.

        ``None`` when the API is unsupported (404, 400, 405, 406, 501, or a first page that is
        not an OCI index), so that the caller uses the ``<alg>-<hex>`` tag instead. Raises
        :class:`ManifestError` for a malformed later page or a ``Link`` to another host.
        """
        what = f"referrers of {digest.short}"
        url = f"{self._base}/referrers/{digest}"
        origin = httpx.URL(self._base)
        seen: set[str] = set()
        found: list[Descriptor] = []
        for page in range(MAX_REFERRER_PAGES):
            seen.add(url)
            try:
                fetched = await self._get(
                    url,
                    accept=mt.OCI_INDEX,
                    limit=MANIFEST_MAX_BYTES,
                    over_limit=self._too_large(what),
                    what=what,
                )
            except RegistryHTTPError as exc:
                unsupported = exc.status_code == 404 or type(exc) is RegistryHTTPError
                if page == 0 and exc.status_code in _UNSUPPORTED_REFERRERS and unsupported:
                    return None
                raise
            try:
                index = parse_manifest(fetched.body, mt.OCI_INDEX, f"{what} in {self.display_name}")
            except ManifestError:
                if page == 0:
                    return None
                raise
            if not isinstance(index, ImageIndex):  # pragma: no cover - OCI_INDEX gives an index
                raise ManifestError(f"{what} in {self.display_name} is not an index")
            found.extend(index.manifests)
            if fetched.link_next is None:
                return tuple(found)
            next_url = httpx.URL(fetched.url).join(fetched.link_next)
            if (next_url.scheme, next_url.host, next_url.port) != (
                origin.scheme,
                origin.host,
                origin.port,
            ):
                raise ManifestError(
                    f"{what} in {self.display_name}: next page is on another host ({next_url.host})"
                )
            url = str(next_url)
            if url in seen:
                raise ManifestError(f"{what} in {self.display_name}: pagination loops")
        raise RegistryError(f"{what} in {self.display_name}: more than {MAX_REFERRER_PAGES} pages")

    async def aclose(self) -> None:
        """Nothing to release: connections belong to the :class:`RegistryClient`."""

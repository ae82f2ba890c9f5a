"""``RegistryClient`` (connections, TLS, credentials, tokens) and ``RegistrySource`` (one
repository, implementing :class:`provcheck.source.base.Source`)."""

from __future__ import annotations

import asyncio
import json
import re
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from types import TracebackType
from typing import Final

import httpx

from provcheck._internal.bounded import Lru
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
from provcheck.oci.model import Descriptor, ImageIndex, load_manifest_json, parse_manifest
from provcheck.oci.reference import ImageReference
from provcheck.source.base import MANIFEST_MAX_BYTES, check_cap, verify_content
from provcheck.source.deadline import Deadline, DeadlineView
from provcheck.source.flight import SingleFlight
from provcheck.source.limiter import HostLimiter, RequestLimiter
from provcheck.source.registry.auth import AuthState, RegistryAuth, refuse_token_redirects
from provcheck.source.registry.connection import (
    SchemePolicy,
    TLSFallback,
    endpoint_transport,
    scheme_policy,
)
from provcheck.source.registry.credentials import CredentialProvider, DockerCredentials
from provcheck.source.registry.options import RegistryOptions
from provcheck.source.registry.transport import Fetched, OverLimit, Upload, fetch
from provcheck.source.store import ContentStore, MemoryStore, read_verified

MAX_REFERRER_PAGES: Final = 64
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_UNSUPPORTED_REFERRERS: Final = frozenset({400, 404, 405, 406, 501})
STORE_LOOKUPS_KEPT: Final = 16384
"""Signature-store answers kept for ``RegistryOptions.store_window`` at most (LRU)."""
MAX_CLIENTS: Final = 64
"""Endpoints with an open HTTP client; the least recently used idle one is closed first."""
MAX_HEADS: Final = 4096
"""Tags whose ``HEAD`` digest a client remembers (least recently used go first: a forgotten tag
is resolved again by ``GET``), so that a long-lived client does not grow with every tag."""

_Key = tuple[object, ...]


def _media_type(content_type: str | None) -> str:
    """``Content-Type`` without parameters, lowercased; ``""`` when absent."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _declared_media_type(body: bytes) -> str | None:
    """The ``mediaType`` a manifest's body declares, or ``None`` (also for non-JSON)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    declared = doc.get("mediaType") if isinstance(doc, dict) else None
    return declared if isinstance(declared, str) else None


class RegistryClient:
    """Talks to OCI registries: one ``httpx.AsyncClient`` per endpoint, shared token cache.

    Use one per process or session, for any number of images, and close it with :meth:`aclose`
    (or ``async with``). ``credentials`` is where credentials come from unless a source names
    its own (default: Docker's ``config.json``). ``store`` keeps manifests and blobs by digest
    (default: a :class:`MemoryStore` of 256 MiB; every read from it is re-verified);
    ``limiter`` bounds the requests per registry host of every reader of the client (default:
    ``options.max_requests_per_host``, pausing a host that answers 429 with ``Retry-After``).
    Concurrent fetches of one digest, and resolutions of one tag within
    ``options.tag_window`` seconds, share one request; so do the signature-store lookups of one
    digest within ``options.store_window`` seconds. ``transport`` replaces the network, for
    fault-injection tests only.
    """

    def __init__(
        self,
        options: RegistryOptions | None = None,
        *,
        credentials: CredentialProvider | None = None,
        store: ContentStore | None = None,
        limiter: RequestLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.options = options or RegistryOptions()
        self._transport = transport
        self.store: ContentStore = MemoryStore() if store is None else store
        self.limiter: RequestLimiter = (
            HostLimiter(self.options.max_requests_per_host) if limiter is None else limiter
        )
        self.max_clients = max_clients
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()
        """Least recently used first; beyond ``max_clients`` only while all are in use."""
        self._busy: dict[str, int] = {}
        self._fallbacks: dict[str, TLSFallback] = {}
        self._content: SingleFlight[_Key, Fetched] = SingleFlight()
        self._fetching: dict[tuple[str, Digest], tuple[_Key, asyncio.Future[None]]] = {}
        """A fetch of each digest in flight per endpoint, in whichever repository: its key and
        a future that is done when it ends."""
        self._tags: SingleFlight[_Key, Fetched | NotFoundError] = SingleFlight(
            self.options.tag_window
        )
        self._store_tags: SingleFlight[_Key, Fetched | NotFoundError] = SingleFlight(
            self.options.store_window, max_kept=STORE_LOOKUPS_KEPT
        )
        self._referrers: SingleFlight[_Key, tuple[Descriptor, ...] | None] = SingleFlight(
            self.options.store_window, max_kept=STORE_LOOKUPS_KEPT
        )
        self._heads: Lru[_Key, Digest] = Lru(MAX_HEADS)
        """Tags resolved by :meth:`RegistrySource.head`: later resolutions read by digest."""
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
        clients, self._clients = list(self._clients.values()), OrderedDict()
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

    @asynccontextmanager
    async def lease(self, endpoint: str) -> AsyncIterator[httpx.AsyncClient]:
        """The HTTP client of ``endpoint``, kept open for the block: when :attr:`max_clients`
        endpoints have one, the least recently used idle client is closed first."""
        if endpoint not in self._clients:
            await self._make_room()
        client = self.http_client(endpoint)
        self._busy[endpoint] = self._busy.get(endpoint, 0) + 1
        try:
            yield client
        finally:
            self._busy[endpoint] -= 1
            if self._busy[endpoint] == 0:
                del self._busy[endpoint]

    @asynccontextmanager
    async def fetching(self, endpoint: str, digest: Digest, key: _Key) -> AsyncIterator[None]:
        """Mark ``digest`` as being fetched from ``endpoint`` by the shared fetch ``key`` for the
        block (see :meth:`settle`); the first such fetch is the one marked."""
        if (endpoint, digest) in self._fetching:
            yield
            return
        done = asyncio.get_running_loop().create_future()
        self._fetching[(endpoint, digest)] = (key, done)
        try:
            yield
        finally:
            del self._fetching[(endpoint, digest)]
            done.set_result(None)

    async def settle(
        self, endpoint: str, digest: Digest, key: _Key, deadline: Deadline | None, action: str
    ) -> None:
        """Wait for a fetch of ``digest`` from ``endpoint`` in flight with another key (another
        repository or credentials), so that its bytes, in the store, serve this one too. If
        that fetch fails, the caller fetches the digest itself: a blob readable in one
        repository may not be readable in another, and no error is taken from it."""
        marked = self._fetching.get((endpoint, digest))
        if marked is None or marked[0] == key:
            return  # nothing in flight, or the shared fetch that this caller joins
        with nullcontext() if deadline is None else deadline.waiting(endpoint, action):
            await asyncio.wait({marked[1]})

    async def _make_room(self) -> None:
        while len(self._clients) >= self.max_clients:
            idle = next((e for e in self._clients if e not in self._busy), None)
            if idle is None:
                return  # every client is in use: one more for a while
            client = self._clients.pop(idle)
            self._fallbacks.pop(idle, None)
            await client.aclose()

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
        else:
            self._clients.move_to_end(endpoint)
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

    def _key(self, *parts: object) -> _Key:
        """What a shared fetch is keyed by: endpoint, repository, credential provider (one
        caller's answer is never handed to a caller with other credentials) and ``parts``."""
        return (self._endpoint, self._repository, self._credentials, *parts)

    async def _get(
        self,
        url: str,
        *,
        accept: str | None,
        limit: int,
        over_limit: OverLimit,
        what: str,
        deadline: DeadlineView | None,
        method: str = "GET",
        upload: Upload | None = None,
    ) -> Fetched:
        def auth() -> RegistryAuth:
            return RegistryAuth(
                self._client._auth,  # one package
                self._credentials,
                endpoint=self._endpoint,
                registry=self._registry,
                repository=self._repository,
                deadline=deadline,
            )

        async with self._client.lease(self._endpoint) as http:
            return await fetch(
                http,
                url,
                accept=accept,
                limit=limit,
                over_limit=over_limit,
                make_auth=auth,
                what=what,
                where=self.display_name,
                host=self._endpoint,
                options=self._client.options,
                limiter=self._client.limiter,
                deadline=deadline,
                method=method,
                upload=upload,
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

    def _header_digest(self, fetched: Fetched, what: str) -> Digest | None:
        """The answer's ``Docker-Content-Digest``, ``None`` without one; a malformed one is an
        :class:`IntegrityError`."""
        header = fetched.headers.get("docker-content-digest")
        if header is None:
            return None
        try:
            return Digest.parse(header.strip())
        except ManifestError:
            raise IntegrityError(
                f"{what} in {self.display_name}: malformed Docker-Content-Digest {header[:80]!r}"
            ) from None

    def _check_header_digest(self, fetched: Fetched, actual: Digest, what: str) -> None:
        claimed = self._header_digest(fetched, what)
        if claimed is None:
            return
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
        digest, so a HEAD would only add a request (and the benchmark counts requests). A digest
        is looked up in the client's store first; a tag is resolved once for all the concurrent
        resolutions of it (and those within the client's tag window), its absence included.
        Raises :class:`InvalidReferenceError` for a malformed tag, else as the class says.
        """
        if isinstance(reference, Digest):
            return await self._resolve_digest(reference)
        if ":" in reference:
            try:
                expected = Digest.parse(reference)
            except ManifestError as exc:
                raise InvalidReferenceError(f"invalid digest {reference[:80]!r}: {exc}") from exc
            return await self._resolve_digest(expected)
        if not _TAG.fullmatch(reference):
            raise InvalidReferenceError(f"invalid tag {reference[:80]!r}")
        headed = self._client._heads.get(self._key("tag", reference))
        if headed is not None:
            return await self._resolve_digest(headed)
        return await self._resolve_tag(reference, self._client._tags)

    async def _resolve_tag(
        self, tag: str, flight: SingleFlight[_Key, Fetched | NotFoundError]
    ) -> tuple[Descriptor, bytes]:
        """``GET`` the manifest of ``tag`` once for the callers of ``flight`` (and, for its
        window, those after them), its absence included; an error is not kept."""
        what = f"manifest {tag}"
        url = f"{self._base}/manifests/{tag}"

        async def run(deadline: DeadlineView) -> Fetched | NotFoundError:
            try:
                return await self._get_manifest(url, what, deadline)
            except NotFoundError as exc:
                return exc.with_traceback(None)  # an answer about the tag, kept for the window

        answer = await flight.run(self._key("tag", tag), run, self._deadline)
        if isinstance(answer, NotFoundError):
            raise NotFoundError(str(answer), answer.status_code)
        return self._described(answer, Digest.of(answer.body), what)

    async def head(self, tag: str) -> Digest | None:
        """The digest of ``tag`` from one ``HEAD`` (free on Docker Hub), or ``None`` when the
        answer names none (resolve with ``GET`` then). Later resolutions of the tag on this
        client read that digest (store first, else ``GET`` by digest, checked against it), so a
        tag is resolved once. Raises as :meth:`resolve` does.
        """
        if not _TAG.fullmatch(tag):
            raise InvalidReferenceError(f"invalid tag {tag[:80]!r}")
        what = f"manifest {tag}"
        fetched = await self._get(
            f"{self._base}/manifests/{tag}",
            accept=mt.MANIFEST_ACCEPT,
            limit=MANIFEST_MAX_BYTES,
            over_limit=self._too_large(what),
            what=what,
            deadline=self._deadline,
            method="HEAD",
        )
        digest = self._header_digest(fetched, what)
        if digest is None:
            return None
        self._client._heads.put(self._key("tag", tag), digest)
        return digest

    async def _get_manifest(self, url: str, what: str, deadline: DeadlineView) -> Fetched:
        return await self._get(
            url,
            accept=mt.MANIFEST_ACCEPT,
            limit=MANIFEST_MAX_BYTES,
            over_limit=self._too_large(what),
            what=what,
            deadline=deadline,
        )

    async def _resolve_digest(self, expected: Digest) -> tuple[Descriptor, bytes]:
        what = f"manifest {expected.short}"
        key = self._key("resolve", expected)
        await self._client.settle(self._endpoint, expected, key, self._deadline, f"GET {what}")
        stored = await read_verified(self._client.store, expected, f"{what} in {self.display_name}")
        if stored is not None and len(stored) <= MANIFEST_MAX_BYTES:
            declared = _declared_media_type(stored)
            if declared in mt.ALL_MANIFEST_TYPES:
                return Descriptor(declared, expected, len(stored)), stored
        url = f"{self._base}/manifests/{expected}"

        async def run(deadline: DeadlineView) -> Fetched:
            fetched = await self._get_manifest(url, what, deadline)
            expected.verify(fetched.body)
            self._check_header_digest(fetched, expected, what)
            await self._client.store.put(expected, fetched.body)
            return fetched

        async with self._client.fetching(self._endpoint, expected, key):
            fetched = await self._client._content.run(key, run, self._deadline)
        return self._described(fetched, expected, what)

    def _described(self, fetched: Fetched, digest: Digest, what: str) -> tuple[Descriptor, bytes]:
        """The descriptor of a manifest fetched by tag or digest (media type from the answer)."""
        body = fetched.body
        self._check_header_digest(fetched, digest, what)
        media_type = _media_type(fetched.headers.get("content-type"))
        if media_type not in mt.ALL_MANIFEST_TYPES:
            media_type = self._media_type_from_body(body, media_type, what)
        return Descriptor(media_type, digest, len(body)), body

    def _media_type_from_body(self, body: bytes, served: str, what: str) -> str:
        """Media type of a manifest served without a usable ``Content-Type``."""
        if served in ("", "application/json", "application/octet-stream", "text/plain"):
            doc = load_manifest_json(body, f"{what} in {self.display_name}")
            declared = doc.get("mediaType") if isinstance(doc, dict) else None
            if isinstance(declared, str) and declared in mt.ALL_MANIFEST_TYPES:
                return declared
            served = str(declared) if declared else served
        raise ManifestError(
            f"{what} in {self.display_name} has unsupported media type {served[:100]!r}"
        )

    async def _fetch_content(
        self, kind: str, descriptor: Descriptor, accept: str | None, what: str
    ) -> Fetched:
        """``GET /v2/<name>/<kind>/<digest>``: verified, put in the store, one request for all
        concurrent callers with this repository, credentials, digest and size."""
        url = f"{self._base}/{kind}/{descriptor.digest}"

        async def run(deadline: DeadlineView) -> Fetched:
            fetched = await self._get(
                url,
                accept=accept,
                limit=descriptor.size,
                over_limit=self._longer_than(descriptor),
                what=what,
                deadline=deadline,
            )
            verify_content(descriptor, fetched.body)
            if kind == "manifests":
                self._check_header_digest(fetched, descriptor.digest, what)
            await self._client.store.put(descriptor.digest, fetched.body)
            return fetched

        key = self._content_key(kind, descriptor)
        async with self._client.fetching(self._endpoint, descriptor.digest, key):
            return await self._client._content.run(key, run, self._deadline)

    def _content_key(self, kind: str, descriptor: Descriptor) -> _Key:
        return self._key(kind, descriptor.digest, descriptor.size)

    async def _stored(self, kind: str, descriptor: Descriptor, what: str) -> bytes | None:
        """Verified bytes of ``descriptor`` from the store, after any fetch of its digest in
        flight for another repository has ended."""
        key = self._content_key(kind, descriptor)
        digest = descriptor.digest
        await self._client.settle(self._endpoint, digest, key, self._deadline, f"GET {what}")
        where = f"{what} in {self.display_name}"
        return await read_verified(self._client.store, digest, where, descriptor.size)

    async def fetch_manifest(self, descriptor: Descriptor) -> bytes:
        """Fetch a manifest or index by digest, checking size, digest and ``Content-Type``.

        Bytes from the client's store are used when they verify and declare the descriptor's
        media type in their ``mediaType`` field.
        """
        check_cap(descriptor, MANIFEST_MAX_BYTES)
        what = f"manifest {descriptor.digest.short}"
        where = f"{what} in {self.display_name}"
        stored = await self._stored("manifests", descriptor, what)
        if stored is not None and _declared_media_type(stored) == descriptor.media_type:
            return stored
        fetched = await self._fetch_content("manifests", descriptor, mt.MANIFEST_ACCEPT, what)
        served = _media_type(fetched.headers.get("content-type"))
        if served and served != descriptor.media_type.lower():
            raise ManifestError(
                f"{where} was served as {served[:100]!r}, its descriptor says "
                f"{descriptor.media_type!r}"
            )
        return fetched.body

    async def fetch_blob(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        """Fetch a blob by digest; never reads more than its size (or ``max_bytes``)."""
        check_cap(descriptor, max_bytes)
        what = f"blob {descriptor.digest.short}"
        stored = await self._stored("blobs", descriptor, what)
        if stored is not None:
            return stored
        return (await self._fetch_content("blobs", descriptor, None, what)).body

    async def fetch_tag(self, tag: str) -> tuple[Descriptor, bytes] | None:
        """Like :meth:`resolve` for a tag of a signature store (``sha256-<hex>[.att|.sig]``), but
        ``None`` when the tag does not exist. Its answer is shared for the client's
        ``store_window``, its absence included (an error is not kept)."""
        if not _TAG.fullmatch(tag):
            raise InvalidReferenceError(f"invalid tag {tag[:80]!r}")
        try:
            return await self._resolve_tag(tag, self._client._store_tags)
        except NotFoundError:
            return None

    async def referrers(self, digest: Digest) -> tuple[Descriptor, ...] | None:
        """Descriptors from ``GET /v2/<name>/referrers/<digest>``, following ``Link`` pages.

        ``None`` when the API is unsupported (404, 400, 405, 406, 501, or a first page that is
        not an OCI index), so that the caller uses the ``<alg>-<hex>`` tag instead. Raises
        :class:`ManifestError` for a malformed later page or a ``Link`` to another host. Shared
        for the client's ``store_window`` (``None`` included; an error is not kept).
        """

        async def run(deadline: DeadlineView) -> tuple[Descriptor, ...] | None:
            return await self._list_referrers(digest, deadline)

        return await self._client._referrers.run(
            self._key("referrers", digest), run, self._deadline
        )

    async def _list_referrers(
        self, digest: Digest, deadline: DeadlineView
    ) -> tuple[Descriptor, ...] | None:
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
                    deadline=deadline,
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

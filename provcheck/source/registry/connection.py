"""How an endpoint is reached: its scheme (HTTPS, plain HTTP, or HTTPS first on loopback), its
TLS settings, and the httpx transport underneath.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path

import httpcore
import httpx

from provcheck.errors import UsageError
from provcheck.source.registry.auth import is_loopback
from provcheck.source.registry.options import RegistryOptions

_log = logging.getLogger("provcheck.registry")


def split_endpoint(endpoint: str) -> tuple[str, int | None]:
    """``host:port`` → (``host``, port); IPv6 hosts keep their brackets."""
    if endpoint.startswith("["):
        host, _, rest = endpoint.partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host + "]", int(port) if port.isdigit() else None
    host, sep, port = endpoint.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return endpoint, None


class _ClosingStream(httpcore.AsyncNetworkStream):
    """A network stream that closes its socket when a TLS handshake is cancelled.

    httpcore 1.0 closes it on an ``Exception`` only; a deadline cancels with
    ``CancelledError``, which would leave the socket open until garbage collection.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            return await self._inner.start_tls(ssl_context, server_hostname, timeout)
        except BaseException:
            await self._inner.aclose()
            raise

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class _ClosingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, with :class:`_ClosingStream` streams."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _ClosingStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, timeout, socket_options)
        return _ClosingStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def http_transport(verify: ssl.SSLContext, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's HTTP/1.1 transport whose cancelled TLS handshakes close their sockets."""
    transport = httpx.AsyncHTTPTransport(verify=verify, http1=True, http2=False, limits=limits)
    pool = transport._pool  # httpx 0.28 has no parameter for the network backend
    pool._network_backend = _ClosingBackend(pool._network_backend)
    return transport


def no_trust_context() -> ssl.SSLContext:
    """A client context that trusts no certificate (no CAs loaded; hostname check and
    ``CERT_REQUIRED`` on): for connections that must never complete a TLS handshake."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class SchemePolicy(StrEnum):
    """How an endpoint is spoken to."""

    HTTPS = "https"
    HTTP = "http"
    """Named with ``--insecure-registry``."""
    HTTPS_THEN_HTTP = "https, else http"
    """A loopback host: HTTPS first, plain HTTP once it answers TLS with something else."""


def scheme_policy(endpoint: str, options: RegistryOptions) -> SchemePolicy:
    """The scheme rule for ``endpoint``.

    ``insecure_registries`` entries (matched exactly as written in the reference, ``host`` or
    ``host:port``) get plain HTTP. Loopback hosts (``localhost``, ``127.0.0.0/8``, ``[::1]``) get
    HTTPS first with a fallback to plain HTTP, as Docker and containerd do, unless a CA was given
    for TLS (``ca_file``, or Docker's ``<certs_dir>/<host:port>/``): then HTTPS only. Every other
    host gets HTTPS only.
    """
    lowered = endpoint.lower()
    if lowered in {entry.lower() for entry in options.insecure_registries}:
        return SchemePolicy.HTTP
    host, _ = split_endpoint(lowered)
    if not is_loopback(host):
        return SchemePolicy.HTTPS
    if options.ca_file is not None or (options.certs_dir / endpoint).is_dir():
        return SchemePolicy.HTTPS
    return SchemePolicy.HTTPS_THEN_HTTP


def ssl_errors(exc: BaseException) -> Iterator[ssl.SSLError]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            yield current
        seen.add(id(current))
        current = current.__cause__ or current.__context__


def speaks_no_tls(exc: BaseException) -> bool:
    """True when a TLS handshake failed because the server answered with something that is not
    TLS (OpenSSL's ``WRONG_VERSION_NUMBER``: its first bytes were no TLS record, as when a
    plain-HTTP server answers ``HTTP/1.1 400``). A reset, a timeout or a certificate is not that.
    """
    return any(error.reason == "WRONG_VERSION_NUMBER" for error in ssl_errors(exc))


class TLSFallback(httpx.AsyncBaseTransport):
    """HTTPS first to one loopback endpoint, plain HTTP for good once the server shows that it
    does not speak TLS (:func:`speaks_no_tls`). The decision is taken once per endpoint, by the
    first request (others wait for it), and kept for the life of the client, as in containerd.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, endpoint: str) -> None:
        self._inner = inner
        self._endpoint = endpoint
        host, port = split_endpoint(endpoint.lower())
        self._host = host.strip("[]")
        self._port = port or 443
        self._plain: bool | None = None
        self._lock = asyncio.Lock()

    @property
    def plain(self) -> bool:
        """True once the endpoint is known to speak plain HTTP."""
        return self._plain is True

    def _ours(self, request: httpx.Request) -> bool:
        url = request.url
        return url.scheme == "https" and (url.host, url.port or 443) == (self._host, self._port)

    async def _over_http(self, request: httpx.Request) -> httpx.Response:
        plain = httpx.Request(
            request.method,
            request.url.copy_with(scheme="http"),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return await self._inner.handle_async_request(plain)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, over plain HTTP if it is for this endpoint and that was decided."""
        if not self._ours(request):
            return await self._inner.handle_async_request(request)
        if self._plain is None:
            async with self._lock:
                if self._plain is None:
                    try:
                        response = await self._inner.handle_async_request(request)
                    except httpx.ConnectError as exc:
                        if not speaks_no_tls(exc):
                            raise
                        self._plain = True
                        _log.info("%s does not speak TLS: using plain HTTP", self._endpoint)
                    else:
                        self._plain = False
                        return response
        if self._plain:
            return await self._over_http(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._inner.aclose()


def ssl_context(endpoint: str, options: RegistryOptions) -> ssl.SSLContext:
    """The TLS settings for ``endpoint``: system trust store, ``--ca-file`` and Docker's
    ``<certs_dir>/<host:port>/*.crt`` (CAs) and ``*.cert``/``*.key`` (client certificates).

    Raises :class:`UsageError` for unreadable or invalid certificate files.
    """
    context = ssl.create_default_context()
    files: list[Path] = []
    try:
        if options.ca_file is not None:
            files.append(options.ca_file)
            context.load_verify_locations(cafile=str(options.ca_file))
        directory = options.certs_dir / endpoint
        if directory.is_dir():
            for crt in sorted(directory.glob("*.crt")):
                files.append(crt)
                context.load_verify_locations(cafile=str(crt))
            for cert in sorted(directory.glob("*.cert")):
                key = cert.with_suffix(".key")
                files.append(cert)
                if not key.is_file():
                    raise UsageError(f"client certificate {cert} has no {key.name} beside it")
                context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        where = files[-1] if files else options.certs_dir
        raise UsageError(f"cannot load TLS certificate {where}: {exc}") from exc
    return context


class LazyTLSTransport(httpx.AsyncBaseTransport):
    """The transport of an endpoint spoken to over plain HTTP (or HTTPS first, on loopback):
    ``http://`` requests go over connections that load no trust store; ``https://`` ones (an
    HTTPS attempt, a redirect to blob storage) over the endpoint's TLS settings
    (:func:`ssl_context`), built at the first such request, so a plain-HTTP run never loads
    the system CA store.

    With ``probe`` (the loopback rule), the first HTTPS request to the endpoint itself is
    preceded by a TLS ClientHello from :func:`no_trust_context`: a server's answer to it does
    not depend on what the client trusts, so a non-TLS answer is raised as the
    :class:`httpx.ConnectError` that the attempt with the full trust store would raise (see
    :class:`TLSFallback`), without loading the store. The probe sends no HTTP and cannot
    complete a handshake; any other outcome (a certificate, no answer) leaves the decision to
    the verified attempt.
    """

    def __init__(
        self, endpoint: str, options: RegistryOptions, limits: httpx.Limits, *, probe: bool
    ) -> None:
        self._endpoint = endpoint
        self._options = options
        self._limits = limits
        self._no_trust = no_trust_context()
        self._plain = http_transport(self._no_trust, limits)
        self._verified: httpx.AsyncHTTPTransport | None = None
        host, port = split_endpoint(endpoint.lower())
        self._probe_origin = (host.strip("[]"), port or 443) if probe else None
        self._backend = _ClosingBackend(httpcore.AnyIOBackend())

    async def _not_tls(self, request: httpx.Request) -> httpcore.ConnectError | None:
        """The error of a ClientHello to the request's host when the answer is not TLS."""
        url = request.url
        timeout = request.extensions.get("timeout", {}).get("connect")
        try:
            stream = await self._backend.connect_tcp(url.host, url.port or 443, timeout)
        except (httpcore.ConnectError, httpcore.ConnectTimeout):
            return None
        try:
            tls = await stream.start_tls(self._no_trust, url.host, timeout)
        except httpcore.ConnectError as exc:
            return exc if speaks_no_tls(exc) else None
        except httpcore.ConnectTimeout:
            return None
        else:  # pragma: no cover - a context without trust anchors cannot complete a handshake
            await tls.aclose()
            return None
        finally:
            await stream.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` over plain HTTP or the endpoint's TLS settings, by its scheme.

        Raises :class:`UsageError` (at the first HTTPS request) for unreadable certificate files.
        """
        if request.url.scheme != "https":
            return await self._plain.handle_async_request(request)
        origin = (request.url.host, request.url.port or 443)
        if self._verified is None and origin == self._probe_origin:
            not_tls = await self._not_tls(request)
            if not_tls is not None:
                raise httpx.ConnectError(str(not_tls), request=request) from not_tls
        if self._verified is None:  # no await since this check: built once
            self._verified = http_transport(
                ssl_context(self._endpoint, self._options), self._limits
            )
        return await self._verified.handle_async_request(request)

    async def aclose(self) -> None:
        """Close both connection pools."""
        await self._plain.aclose()
        if self._verified is not None:
            await self._verified.aclose()


def endpoint_transport(
    endpoint: str, policy: SchemePolicy, options: RegistryOptions, limits: httpx.Limits
) -> httpx.AsyncBaseTransport:
    """The transport of ``endpoint``'s client: HTTPS endpoints get their TLS settings up front
    (so bad certificate files are a :class:`UsageError` before any request); plain-HTTP and
    loopback endpoints a :class:`LazyTLSTransport`."""
    if policy is SchemePolicy.HTTPS:
        return http_transport(ssl_context(endpoint, options), limits)
    return LazyTLSTransport(endpoint, options, limits, probe=policy is SchemePolicy.HTTPS_THEN_HTTP)

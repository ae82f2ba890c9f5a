"""HTTP plumbing of the registry client: scheme and TLS per endpoint, capped GETs with retries,
and the mapping of every httpx failure onto :mod:`provcheck.errors`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from provcheck._internal.jsonload import load_json
from provcheck.errors import (
    AuthenticationError,
    NotFoundError,
    ProvcheckError,
    RegistryConnectionError,
    RegistryError,
    RegistryHTTPError,
    UsageError,
)
from provcheck.source.registry.auth import RegistryAuth, plain_http_allowed
from provcheck.source.registry.options import RegistryOptions

_log = logging.getLogger("provcheck.registry")

RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
ERROR_BODY_MAX_BYTES: Final = 64 * 1024
_MESSAGE_MAX: Final = 200


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


def registry_scheme(endpoint: str, insecure_registries: frozenset[str]) -> str:
    """``http`` for loopback hosts (any port) and ``insecure_registries`` entries, else ``https``.

    Loopback is plain HTTP as in buildx and containerd; other hosts need an explicit entry,
    matched exactly as written in the reference (``host`` or ``host:port``).
    """
    lowered = endpoint.lower()
    if lowered in {entry.lower() for entry in insecure_registries}:
        return "http"
    host, _ = split_endpoint(lowered)
    return "http" if plain_http_allowed(host, None, frozenset()) else "https"


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


def _retry_after(value: str | None, max_wait: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), max_wait)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(when.timestamp() - time.time(), 0.0), max_wait)


def backoff(attempt: int, options: RegistryOptions) -> float:
    """Exponential backoff with jitter: ``base * 2**attempt`` scaled by 0.5 to 1, capped."""
    delay: float = options.backoff_base * (2**attempt) * random.uniform(0.5, 1.0)
    return min(delay, options.max_retry_after)


def registry_error_detail(body: bytes) -> str:
    """A short quote of a registry's ``{"errors":[{"code","message"}]}`` body, or ``""``."""
    try:
        doc = load_json(body, "error body", RegistryError)
    except RegistryError:
        return ""
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for error in errors[:5]:
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            parts.append(": ".join(str(x) for x in (code, message) if x))
    text = "; ".join(p for p in parts if p)
    if len(text) > _MESSAGE_MAX:
        text = text[: _MESSAGE_MAX - 1] + "…"
    return text.replace("\n", " ").replace("\r", " ")


def _is_tls_failure(exc: BaseException) -> bool:
    """True when a TLS handshake failed for good (verification, protocol), not by a reset."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return not isinstance(current, ssl.SSLEOFError | ssl.SSLZeroReturnError)
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


@dataclass(frozen=True, slots=True)
class Fetched:
    """A ``200`` response whose body was read within its cap."""

    url: str
    headers: Mapping[str, str]
    link_next: str | None
    body: bytes


OverLimit = Callable[[int], ProvcheckError]
"""Builds the error for a body with more than the allowed bytes (given how many were seen)."""


async def _read_capped(response: httpx.Response, limit: int, over: OverLimit) -> bytes:
    if "content-encoding" not in response.headers:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise over(int(declared))
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise over(len(body))
    return bytes(body)


async def _read_error_body(response: httpx.Response) -> bytes:
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > ERROR_BODY_MAX_BYTES:
                break
    except httpx.HTTPError:
        pass  # the status already tells what went wrong
    return bytes(body)


def _status_error(
    status: int, what: str, where: str, body: bytes, auth: RegistryAuth
) -> RegistryHTTPError:
    detail = registry_error_detail(body)
    suffix = f": {detail}" if detail else ""
    how = "with credentials" if auth.used_credentials else "anonymously"
    if status == 404:
        return NotFoundError(f"{what} not found in {where}{suffix}", status)
    if status == 401:
        if auth.attempted:
            text = f"authentication to {where} failed ({how}): still 401 after authenticating"
        elif auth.challenge == "basic":
            text = f"{where} requires credentials (Basic) and none are configured for it"
        else:
            text = f"{where} answered 401 without a usable authentication challenge"
        return AuthenticationError(text + suffix, status)
    if status == 403:
        return AuthenticationError(f"access to {what} in {where} denied ({how}){suffix}", status)
    return RegistryHTTPError(f"{where} answered HTTP {status} for {what}{suffix}", status)


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    accept: str | None,
    limit: int,
    over_limit: OverLimit,
    make_auth: Callable[[], RegistryAuth],
    what: str,
    where: str,
    options: RegistryOptions,
) -> Fetched:
    """GET ``url`` and read at most ``limit`` bytes of a 200 body, retrying what may pass.

    Retries 429/502/503/504 (honouring ``Retry-After``) and connection failures other than TLS
    verification, up to ``options.max_retries`` times. Raises :class:`NotFoundError` (404),
    :class:`AuthenticationError` (401/403), :class:`RegistryHTTPError` (other statuses),
    :class:`RegistryConnectionError` (network, TLS, timeouts), :class:`RegistryError` (too many
    redirects, undecodable bodies), and whatever ``over_limit`` builds.
    """
    headers = {"Accept": accept} if accept else {}
    attempt = 0
    while True:
        last = attempt >= options.max_retries
        auth = make_auth()
        delay: float | None = None
        try:
            async with client.stream("GET", url, headers=headers, auth=auth) as response:
                status = response.status_code
                # The final URL without its query: presigned redirect targets carry secrets there.
                _log.debug("GET %s -> %d", response.url.copy_with(query=None), status)
                if status == 200:
                    body = await _read_capped(response, limit, over_limit)
                    link = response.links.get("next", {}).get("url")
                    return Fetched(str(response.url), response.headers, link, body)
                if status in RETRY_STATUSES and not last:
                    wait = _retry_after(
                        response.headers.get("retry-after"), options.max_retry_after
                    )
                    delay = backoff(attempt, options) if wait is None else wait
                else:
                    error_body = await _read_error_body(response)
                    raise _status_error(status, what, where, error_body, auth)
        except RegistryHTTPError as exc:
            # Also token-server failures raised by the auth flow.
            if (
                last
                or exc.status_code not in RETRY_STATUSES
                or isinstance(exc, AuthenticationError)
            ):
                raise
            delay = backoff(attempt, options)
        except ProvcheckError:
            raise
        except httpx.UnsupportedProtocol as exc:
            raise RegistryError(f"cannot fetch {what} from {where}: {exc}") from exc
        except httpx.TransportError as exc:
            if _is_tls_failure(exc):
                raise RegistryConnectionError(
                    f"TLS connection to {where} failed: {exc} (give the registry's CA with "
                    f"--ca-file or {options.certs_dir}/<host:port>/ca.crt)"
                ) from exc
            if last:
                kind = type(exc).__name__
                raise RegistryConnectionError(
                    f"cannot fetch {what} from {where}: {kind}: {str(exc) or 'connection failed'} "
                    f"(after {attempt + 1} tries)"
                ) from exc
            delay = backoff(attempt, options)
        except httpx.TooManyRedirects as exc:
            raise RegistryError(f"too many redirects while fetching {what} from {where}") from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise RegistryError(f"cannot fetch {what} from {where}: {exc}") from exc
        attempt += 1
        _log.info("retrying %s from %s in %.1f s (try %d)", what, where, delay, attempt + 1)
        await asyncio.sleep(delay)

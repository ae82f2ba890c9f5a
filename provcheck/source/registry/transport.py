"""HTTP plumbing of the registry client: capped GETs with retries
inside a deadline, and the mapping of every httpx failure onto :mod:`provcheck.errors`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
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
)
from provcheck.report.escape import escape_text
from provcheck.source.deadline import DeadlineView
from provcheck.source.limiter import RequestLimiter
from provcheck.source.registry.auth import RegistryAuth
from provcheck.source.registry.connection import speaks_no_tls, ssl_errors
from provcheck.source.registry.options import RegistryOptions

_log = logging.getLogger("provcheck.registry")

RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
ERROR_BODY_MAX_BYTES: Final = 64 * 1024
_MESSAGE_MAX: Final = 200


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
    return escape_text(text)


def _is_tls_failure(exc: BaseException) -> bool:
    """True when a TLS handshake failed for good (verification, protocol), not by a reset or a
    timeout (a server that accepts and never answers leaves an ``SSLWantReadError`` behind)."""
    if isinstance(exc, httpx.TimeoutException):
        return False
    first = next(ssl_errors(exc), None)
    return first is not None and not isinstance(first, ssl.SSLEOFError | ssl.SSLZeroReturnError)


def _tls_hint(exc: BaseException, host: str, options: RegistryOptions) -> str:
    if speaks_no_tls(exc):
        return f"it does not speak TLS; name it with --insecure-registry {host} for plain HTTP"
    return f"give the registry's CA with --ca-file or {options.certs_dir}/<host:port>/ca.crt"


@dataclass(frozen=True, slots=True)
class Fetched:
    """A ``200`` response whose body was read within its cap."""

    url: str
    headers: Mapping[str, str]
    link_next: str | None
    body: bytes


OverLimit = Callable[[int], ProvcheckError]
"""Builds the error for a body with more than the allowed bytes (given how many were seen)."""


@dataclass(frozen=True, slots=True)
class Upload:
    """The body of a write request (:mod:`.push`) and the statuses that mean it succeeded."""

    content: bytes
    content_type: str
    ok: frozenset[int]


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
    status: int, what: str, where: str, body: bytes, auth: RegistryAuth, plain_http: bool
) -> RegistryHTTPError:
    detail = registry_error_detail(body)
    suffix = f": {detail}" if detail else ""
    if status == 400 and plain_http:
        # What a TLS server answers to plain HTTP ("Client sent an HTTP request to an HTTPS
        # server"), decided on the status and the scheme, not on that text.
        suffix += " (if the registry speaks HTTPS, drop its --insecure-registry entry)"
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
    host: str,
    options: RegistryOptions,
    limiter: RequestLimiter,
    deadline: DeadlineView | None = None,
    method: str = "GET",
    upload: Upload | None = None,
) -> Fetched:
    """GET ``url`` and read at most ``limit`` bytes of a 200 body, retrying what may pass
    (``method`` ``HEAD``: the same, with an empty body; with ``upload``, ``method`` sends its
    content and any of its ``ok`` statuses is the success).

    Retries 429/502/503/504 (honouring ``Retry-After``) and connection failures other than TLS
    verification, up to ``options.max_retries`` times, each retry logged (INFO) before its wait;
    a wait that cannot fit in ``deadline`` is not started. Raises :class:`NotFoundError` (404),
    :class:`AuthenticationError` (401/403), :class:`RegistryHTTPError` (other statuses),
    :class:`RegistryConnectionError` (network, TLS, timeouts), :class:`DeadlineExceededError`
    (a wait past the deadline), :class:`RegistryError` (too many redirects, undecodable
    bodies), and whatever ``over_limit`` builds. Every try holds a slot of ``limiter`` for
    ``host`` and waits out a pause of the host (another request's ``429`` with ``Retry-After``);
    a ``429`` with ``Retry-After`` pauses the host for every request.
    """
    headers = {"Accept": accept} if accept else {}
    action = f"{method} {what}"
    attempt = 0
    while True:
        await _wait_for_pause(limiter, deadline, host, action, where)
        with _waiting(deadline, host, action):
            async with limiter.slot(host):
                try:
                    tried = await _try(
                        client,
                        url,
                        headers,
                        attempt=attempt,
                        limit=limit,
                        over_limit=over_limit,
                        make_auth=make_auth,
                        what=what,
                        where=where,
                        host=host,
                        options=options,
                        method=method,
                        upload=upload,
                    )
                except ProvcheckError:
                    if options.on_request is not None:
                        options.on_request(host, True)
                    raise
        if options.on_request is not None:
            options.on_request(host, not isinstance(tried, Fetched))
        if isinstance(tried, Fetched):
            return tried
        delay, reason = tried.delay, tried.reason
        if tried.rate_limited:
            await limiter.pause(host, delay)
        if deadline is not None and delay >= deadline.remaining():
            raise deadline.cannot_wait(host, action, tried.error, delay) from tried.error
        attempt += 1
        _log.info(
            "retrying %s from %s in %.1f s after %s (try %d of %d)",
            what,
            where,
            delay,
            reason,
            attempt + 1,
            options.max_retries + 1,
        )
        with _waiting(deadline, host, f"{action}: waiting {delay:.1f} s to retry after {reason}"):
            await asyncio.sleep(delay)


@dataclass(frozen=True, slots=True)
class _Retry:
    """A try that may pass later: wait ``delay`` seconds (because of ``reason``), or give up
    with ``error``."""

    delay: float
    reason: str
    error: RegistryError
    rate_limited: bool = False
    """A ``429`` with ``Retry-After``: the whole host waits ``delay``."""


def _waiting(deadline: DeadlineView | None, host: str, action: str) -> AbstractContextManager[None]:
    return nullcontext() if deadline is None else deadline.waiting(host, action)


async def _wait_for_pause(
    limiter: RequestLimiter, deadline: DeadlineView | None, host: str, action: str, where: str
) -> None:
    """Wait while ``host`` is paused; raise :class:`DeadlineExceededError` at once when the
    pause ends after the deadline."""
    while (pause := await limiter.resume_in(host)) > 0:
        if deadline is not None and pause >= deadline.remaining():
            error = RegistryHTTPError(f"{where} is rate-limited (HTTP 429 with Retry-After)", 429)
            raise deadline.cannot_wait(host, action, error, pause)
        _log.info("waiting %.1f s for %s: it is rate-limited (HTTP 429)", pause, where)
        with _waiting(deadline, host, f"{action}: waiting {pause:.1f} s, rate-limited"):
            await asyncio.sleep(pause)


async def _try(
    client: httpx.AsyncClient,
    url: str,
    headers: Mapping[str, str],
    *,
    attempt: int,
    limit: int,
    over_limit: OverLimit,
    make_auth: Callable[[], RegistryAuth],
    what: str,
    where: str,
    host: str,
    options: RegistryOptions,
    method: str = "GET",
    upload: Upload | None = None,
) -> Fetched | _Retry:
    """One try of :func:`fetch`: the result, or the delay before the next try and its reason."""
    last = attempt >= options.max_retries
    auth = make_auth()
    content = None
    ok = frozenset({200})
    if upload is not None:
        headers = {**headers, "Content-Type": upload.content_type}
        content, ok = upload.content, upload.ok
    try:
        async with client.stream(
            method, url, headers=headers, auth=auth, content=content
        ) as response:
            status = response.status_code
            # The final URL without its query: presigned redirect targets carry secrets there.
            _log.debug("%s %s -> %d", method, response.url.copy_with(query=None), status)
            if status in ok:
                body = b"" if method == "HEAD" else await _read_capped(response, limit, over_limit)
                link = response.links.get("next", {}).get("url")
                return Fetched(str(response.url), response.headers, link, body)
            error_body = await _read_error_body(response)
            plain = response.url.scheme == "http"
            error = _status_error(status, what, where, error_body, auth, plain)
            if status not in RETRY_STATUSES or last:
                raise error
            wait = _retry_after(response.headers.get("retry-after"), options.max_retry_after)
            if wait is None:
                return _Retry(backoff(attempt, options), f"HTTP {status}", error)
            return _Retry(wait, f"HTTP {status} with Retry-After", error, status == 429)
    except RegistryHTTPError as exc:
        # Also token-server failures raised by the auth flow.
        if last or exc.status_code not in RETRY_STATUSES or isinstance(exc, AuthenticationError):
            raise
        return _Retry(backoff(attempt, options), f"HTTP {exc.status_code} (token server)", exc)
    except ProvcheckError:
        raise
    except httpx.UnsupportedProtocol as exc:
        raise RegistryError(f"cannot fetch {what} from {where}: {exc}") from exc
    except httpx.TransportError as exc:
        if _is_tls_failure(exc):
            raise RegistryConnectionError(
                f"TLS connection to {where} failed: {exc} ({_tls_hint(exc, host, options)})"
            ) from exc
        kind = type(exc).__name__
        reason = str(exc) or (
            "no answer in time" if isinstance(exc, httpx.TimeoutException) else "connection failed"
        )
        failed = RegistryConnectionError(
            f"cannot fetch {what} from {where}: {kind}: {reason} (after {attempt + 1} tries)"
        )
        if last:
            raise failed from exc
        failed.__cause__ = exc
        return _Retry(backoff(attempt, options), kind, failed)
    except httpx.TooManyRedirects as exc:
        raise RegistryError(f"too many redirects while fetching {what} from {where}") from exc
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        raise RegistryError(f"cannot fetch {what} from {where}: {exc}") from exc

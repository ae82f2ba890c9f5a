"""Registry authentication as an ``httpx.Auth`` flow: Docker's token dance and Basic auth.

On ``401`` with ``WWW-Authenticate: Bearer realm=…,service=…,scope=…`` the flow asks the realm
for a token (anonymously, with Basic credentials, or with an identity token as an OAuth2 refresh
token) and retries the request once with ``Authorization: Bearer``. Tokens are cached per
(endpoint, scopes) until shortly before they expire and sent up front on later requests for the
same repository. Tokens are keyed by a fingerprint of the credentials that fetched them too, so a
client serving several credential sets for one registry never hands one's token to another.
Token requests are yielded to the same ``httpx.AsyncClient``, so they use the registry's TLS
settings and timeouts, and are counted like every other request; they never follow a redirect to
another origin (:func:`refuse_token_redirects`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import httpx

from provcheck._internal.bounded import KeyedLocks, Lru
from provcheck._internal.jsonload import load_json
from provcheck.errors import AuthenticationError, RegistryError, RegistryHTTPError
from provcheck.source.deadline import DeadlineView
from provcheck.source.registry.credentials import CredentialProvider, Credentials

TOKEN_MAX_BYTES: Final = 1024 * 1024
CHALLENGE_BODY_MAX_BYTES: Final = 64 * 1024
DEFAULT_TOKEN_LIFETIME: Final = 60
_CLIENT_ID: Final = "provcheck"
TOKEN_ORIGIN: Final = "provcheck.token_origin"
"""Request extension of token requests: the (scheme, host, port) they may be sent to."""
ANONYMOUS: Final = "anonymous"
MAX_TOKENS: Final = 1024
"""Tokens (and repositories' scopes) kept per client; expired ones are dropped first."""
MAX_ENDPOINTS: Final = 1024
"""Endpoints whose authentication scheme is remembered."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_SPACE = " \t"


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header; scheme and parameter names lowercased."""

    scheme: str
    params: Mapping[str, str]


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """Parse the quoted-string starting at ``text[pos] == '"'``; return (value, end)."""
    out: list[str] = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
        elif char == '"':
            return "".join(out), pos + 1
        else:
            out.append(char)
            pos += 1
    return "".join(out), pos  # unterminated: take the rest, as lenient parsers do


def parse_www_authenticate(value: str) -> tuple[Challenge, ...]:
    """Parse a ``WWW-Authenticate`` value (RFC 7235 / RFC 6750) into its challenges.

    Quoted values may hold commas, spaces and backslash escapes; several challenges may share one
    header. Never raises: malformed trailing text is ignored.
    """
    challenges: list[Challenge] = []
    pos = 0
    while True:
        pos = _skip(value, pos, _SPACE + ",")
        scheme = _TOKEN.match(value, pos)
        if scheme is None:
            break
        pos = scheme.end()
        params: dict[str, str] = {}
        pos = _skip(value, pos, _SPACE)
        t68 = _TOKEN68.match(value, pos)
        if t68 is not None:
            end = _skip(value, t68.end(), _SPACE)
            if end == len(value) or value[end] == ",":
                # ``Scheme token68`` (e.g. Negotiate): no parameters to read.
                challenges.append(Challenge(scheme.group().lower(), MappingProxyType(params)))
                pos = end
                continue
        while True:
            pos = _skip(value, pos, _SPACE)
            start = pos
            name = _TOKEN.match(value, pos)
            after = _skip(value, name.end(), _SPACE) if name else pos
            if name is None or after >= len(value) or value[after] != "=":
                pos = start  # not a parameter: the scheme of the next challenge
                break
            pos = _skip(value, after + 1, _SPACE)
            if pos < len(value) and value[pos] == '"':
                param, pos = _quoted(value, pos)
            else:
                bare = _TOKEN.match(value, pos)
                param = bare.group() if bare else ""
                pos = bare.end() if bare else pos
            params.setdefault(name.group().lower(), param)
            pos = _skip(value, pos, _SPACE)
            if pos < len(value) and value[pos] == ",":
                pos += 1
                continue
            break
        challenges.append(Challenge(scheme.group().lower(), MappingProxyType(params)))
    return tuple(challenges)


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: float


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1`` (brackets allowed)."""
    host = host.lower().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_allowed(host: str, port: int | None, insecure: frozenset[str]) -> bool:
    """True for loopback hosts and for ``host[:port]`` entries of ``insecure``."""
    host = host.lower().strip("[]")
    if is_loopback(host):
        return True
    shown = f"[{host}]" if ":" in host else host
    return shown in insecure or (port is not None and f"{shown}:{port}" in insecure)


_TokenKey = tuple[str, tuple[str, ...], str]
"""(endpoint, scopes, credentials fingerprint)."""


class AuthState:
    """Token cache shared by every request of one ``RegistryClient``.

    Tokens are keyed by endpoint, scopes and a fingerprint of the credentials that fetched them:
    an HMAC under a key that lives only in this object, so the cache holds no secret and its keys
    cannot be matched against anything outside it. Every table is bounded (:data:`MAX_TOKENS`,
    :data:`MAX_ENDPOINTS`; expired tokens go first), and a token's lock lives only while a
    request holds or waits for it.
    """

    def __init__(
        self, *, insecure: frozenset[str], user_agent: str, timeout: httpx.Timeout
    ) -> None:
        self.insecure = insecure
        self.user_agent = user_agent
        self.timeout = timeout
        self._key = secrets.token_bytes(32)
        self._tokens: Lru[_TokenKey, _Token] = Lru(MAX_TOKENS)
        self._scopes_for: Lru[tuple[str, str, str], tuple[str, ...]] = Lru(MAX_TOKENS)
        self._basic: Lru[str, bool] = Lru(MAX_ENDPOINTS)
        self._challenged: Lru[str, bool] = Lru(MAX_ENDPOINTS)
        self._locks: KeyedLocks[_TokenKey] = KeyedLocks()

    def fingerprint(self, credentials: Credentials | None) -> str:
        """A short keyed hash of ``credentials`` (``"anonymous"`` for ``None``); never a secret."""
        if credentials is None:
            return ANONYMOUS
        fields = (
            credentials.username,
            credentials.password,
            credentials.identity_token,
            credentials.registry_token,
        )
        message = json.dumps(fields).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def cached_header(self, endpoint: str, repository: str, fingerprint: str) -> str | None:
        """An ``Authorization`` value to send up front, if a live token is known."""
        scopes = self._scopes_for.get((endpoint, repository, fingerprint))
        if scopes is not None:
            value = self.token(endpoint, scopes, fingerprint)
            if value is not None:
                return f"Bearer {value}"
        return None

    def token(self, endpoint: str, scopes: tuple[str, ...], fingerprint: str) -> str | None:
        """A live cached token for exactly these scopes, fetched with these credentials."""
        token = self._tokens.get((endpoint, scopes, fingerprint))
        if token is not None and token.expires_at > time.monotonic():
            return token.value
        return None

    def store(
        self,
        endpoint: str,
        repository: str,
        scopes: tuple[str, ...],
        fingerprint: str,
        token: tuple[str, float],
    ) -> None:
        """Cache ``token`` (value, lifetime in seconds) until shortly before it expires."""
        value, lifetime = token
        margin = min(10.0, lifetime / 4)
        expires_at = time.monotonic() + lifetime - margin
        now = time.monotonic()
        if len(self._tokens) >= MAX_TOKENS:
            self._tokens.drop([key for key, old in self._tokens.items() if old.expires_at <= now])
        self._tokens.put((endpoint, scopes, fingerprint), _Token(value, expires_at))
        self.remember(endpoint, repository, scopes, fingerprint)

    def remember(
        self, endpoint: str, repository: str, scopes: tuple[str, ...], fingerprint: str
    ) -> None:
        """Use the token for ``scopes`` up front on later requests for ``repository``."""
        self._scopes_for.put((endpoint, repository, fingerprint), scopes)
        self._challenged.put(endpoint, True)

    def challenged(self, endpoint: str) -> bool:
        """True once ``endpoint`` asked for authentication (so credentials are worth a look)."""
        return endpoint in self._challenged

    def lock(
        self, endpoint: str, scopes: tuple[str, ...], fingerprint: str
    ) -> AbstractAsyncContextManager[None]:
        """One lock per token, so that concurrent requests fetch it once."""
        return self._locks.hold((endpoint, scopes, fingerprint))

    def uses_basic(self, endpoint: str) -> bool:
        """True once ``endpoint`` asked for Basic auth."""
        return endpoint in self._basic

    def set_basic(self, endpoint: str) -> None:
        """Remember that ``endpoint`` wants Basic auth."""
        self._basic.put(endpoint, True)
        self._challenged.put(endpoint, True)


def _basic_header(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return _origin(a) == _origin(b)


async def refuse_token_redirects(request: httpx.Request) -> None:
    """A request hook: a token request (or a redirect of one) may go to its own origin only.

    Raises :class:`RegistryError` for a redirect elsewhere: a refresh token in a POST body, or
    Basic credentials, must never follow a token server's redirect to another host.
    """
    origin = request.extensions.get(TOKEN_ORIGIN)
    if origin is not None and origin != _origin(request.url):
        raise RegistryError(
            f"token server {origin[1]} redirected the token request to another origin "
            f"({request.url.scheme}://{request.url.host}); not followed"
        )


class _CappedStream(httpx.AsyncByteStream):
    """A response stream that raises :class:`RegistryError` after ``limit`` raw bytes."""

    def __init__(self, inner: httpx.AsyncByteStream, limit: int, what: str) -> None:
        self._inner = inner
        self._limit = limit
        self._what = what

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                raise RegistryError(f"{self._what} is larger than {self._limit} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


async def read_capped(response: httpx.Response, limit: int, what: str) -> bytes:
    """Read a small response (challenge, token) whole, but never more than ``limit`` bytes.

    httpx reads the responses an auth flow sees; capping the stream keeps that read bounded and
    frees the connection before the flow waits for anything.
    """
    if not isinstance(response.stream, _CappedStream):
        if not isinstance(response.stream, httpx.AsyncByteStream):  # pragma: no cover
            raise RuntimeError("RegistryAuth works with httpx.AsyncClient only")
        response.stream = _CappedStream(response.stream, limit, what)
    return await response.aread()


class RegistryAuth(httpx.Auth):
    """Authentication of the requests for one repository on one registry endpoint (async only).

    After the flow, :attr:`attempted` and :attr:`used_credentials` tell an error message what
    was tried. Raises :class:`AuthenticationError` when the token server refuses, or when
    credentials would go to a token server over plain HTTP; :class:`RegistryHTTPError` for other
    token-server statuses; :class:`UsageError` from the credential lookup.
    """

    def __init__(
        self,
        state: AuthState,
        credentials: CredentialProvider,
        *,
        endpoint: str,
        registry: str,
        repository: str,
        deadline: DeadlineView | None = None,
    ) -> None:
        self._state = state
        self._credentials = credentials
        self._deadline = deadline
        self._endpoint = endpoint
        self._registry = registry
        self._repository = repository
        self.attempted = False
        self.used_credentials = False
        self.challenge: str | None = None

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Not supported: the registry client is async only. Raises :class:`RuntimeError`."""
        raise RuntimeError("RegistryAuth works with httpx.AsyncClient only")
        yield request  # type: ignore[unreachable]  # makes this a generator

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Send ``request``; on a 401 challenge from the registry, authenticate and retry once."""
        sent: str | None = None
        looked_up = self._state.challenged(self._endpoint)
        # Credentials (a helper may run) only for endpoints that asked for them before.
        creds = await self._credentials.credentials(self._registry) if looked_up else None
        if looked_up:
            fingerprint = self._state.fingerprint(creds)
            sent = self._state.cached_header(self._endpoint, self._repository, fingerprint)
            basic_known = sent is None and self._state.uses_basic(self._endpoint)
            if basic_known and creds is not None and creds.has_password:
                sent = _basic_header(creds)
                self.used_credentials = True
        if sent is not None:
            request.headers["Authorization"] = sent
            self.attempted = True
        response = yield request
        # Only a challenge from the registry itself counts: a 401 from a redirect target (blob
        # storage) must never make us send credentials or tokens anywhere.
        if response.status_code != 401 or not _same_origin(response.request.url, request.url):
            return
        await read_capped(response, CHALLENGE_BODY_MAX_BYTES, f"401 answer of {self._registry}")
        challenges: list[Challenge] = []
        for value in response.headers.get_list("www-authenticate"):
            challenges.extend(parse_www_authenticate(value))
        bearer = next(
            (c for c in challenges if c.scheme == "bearer" and c.params.get("realm")), None
        )
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        if not looked_up:
            creds = await self._credentials.credentials(self._registry)
        fingerprint = self._state.fingerprint(creds)
        if bearer is not None:
            self.challenge = "bearer"
            header: str | None = None
            if creds is not None and creds.registry_token:
                header = f"Bearer {creds.registry_token}"
                self.used_credentials = True
            else:
                scope_text = bearer.params.get("scope", "").split()
                scopes = tuple(scope_text) or (f"repository:{self._repository}:pull",)
                key = (self._endpoint, scopes, fingerprint)
                async with self._state.lock(*key):
                    cached = self._state.token(*key)
                    if cached is not None and f"Bearer {cached}" != sent:
                        token = cached  # another request fetched it while we waited
                        self._state.remember(self._endpoint, self._repository, scopes, fingerprint)
                    else:
                        token_request = self._token_request(bearer, scopes, creds)
                        host = token_request.url.netloc.decode("ascii", "replace")
                        with (
                            self._deadline.waiting(host, f"token for {' '.join(scopes)}")
                            if self._deadline is not None
                            else nullcontext()
                        ):
                            token_response = yield token_request
                        fetched = await self._read_token(token_response, creds)
                        self._state.store(
                            self._endpoint, self._repository, scopes, fingerprint, fetched
                        )
                        token = fetched[0]
                header = f"Bearer {token}"
        elif basic is not None and creds is not None and creds.has_password:
            self.challenge = "basic"
            self._state.set_basic(self._endpoint)
            header = _basic_header(creds)
            self.used_credentials = True
        else:
            self.challenge = challenges[0].scheme if challenges else None
            return
        request.headers["Authorization"] = header
        self.attempted = True
        yield request

    def _token_request(
        self, challenge: Challenge, scopes: tuple[str, ...], creds: Credentials | None
    ) -> httpx.Request:
        realm = httpx.URL(challenge.params["realm"])
        if realm.scheme not in ("http", "https") or not realm.host:
            raise AuthenticationError(
                f"{self._registry} named an unusable token server {str(realm)[:100]!r}", 401
            )
        service = challenge.params.get("service")
        sends_secret = creds is not None and (creds.identity_token or creds.has_password)
        if (
            sends_secret
            and realm.scheme == "http"
            and not plain_http_allowed(realm.host, realm.port, self._state.insecure)
        ):
            raise AuthenticationError(
                f"refusing to send credentials for {self._registry} to token server "
                f"{realm.host} over plain HTTP (allow it with an insecure-registry entry)",
                401,
            )
        headers = {"User-Agent": self._state.user_agent, "Accept": "application/json"}
        extensions = {"timeout": self._state.timeout.as_dict(), TOKEN_ORIGIN: _origin(realm)}
        if creds is not None and creds.identity_token:
            self.used_credentials = True
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": _CLIENT_ID,
                "scope": " ".join(scopes),
            }
            if service:
                form["service"] = service
            return httpx.Request("POST", realm, data=form, headers=headers, extensions=extensions)
        params: list[tuple[str, str | int | float | bool | None]] = (
            [("service", service)] if service else []
        )
        params.extend(("scope", scope) for scope in scopes)
        if creds is not None and creds.has_password:
            self.used_credentials = True
            headers["Authorization"] = _basic_header(creds)
        return httpx.Request(
            "GET",
            realm.copy_merge_params(params),
            headers=headers,
            extensions=extensions,
        )

    async def _read_token(
        self, response: httpx.Response, creds: Credentials | None
    ) -> tuple[str, float]:
        where = f"token server {response.request.url.host} (for {self._registry})"
        status = response.status_code
        if status != 200:
            if status in (401, 403):
                how = "anonymous access"
                if self.used_credentials and creds is not None:
                    how = f"the credentials from {creds.origin}"
                raise AuthenticationError(f"{where} refused {how} ({status})", status)
            raise RegistryHTTPError(f"{where} answered HTTP {status}", status)
        body = await read_capped(response, TOKEN_MAX_BYTES, f"answer of {where}")
        doc = load_json(body, f"answer of {where}", RegistryError)
        token = None
        lifetime: float = DEFAULT_TOKEN_LIFETIME
        if isinstance(doc, dict):
            token = doc.get("access_token") or doc.get("token")
            expires = doc.get("expires_in")
            if isinstance(expires, int | float) and not isinstance(expires, bool) and expires > 0:
                lifetime = float(expires)
        if not isinstance(token, str) or not (token.isascii() and token.isprintable() and token):
            raise RegistryError(f"{where} answered without a token")
        return token, lifetime

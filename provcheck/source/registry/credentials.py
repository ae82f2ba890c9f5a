"""Registry credentials from Docker's ``config.json``, read the way ``docker`` reads them.

Order: ``credHelpers[<host>]``, else ``credsStore`` (both run ``docker-credential-<helper> get``),
else ``auths[<host>]`` (``auth`` = base64 ``user:pass``, or ``username``/``password``,
``identitytoken``, ``registrytoken``). A helper that reports "credentials not found" means
anonymous access, as in docker.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from provcheck._internal.bounded import KeyedLocks, Lru
from provcheck._internal.jsonload import load_json, load_json_object
from provcheck.errors import UsageError

DOCKER_HUB_SERVER: Final = "https://index.docker.io/v1/"
"""The key under which docker stores Docker Hub credentials."""

_DOCKER_HUB_HOSTS: Final = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_HELPER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_TOKEN_USERNAME: Final = "<token>"


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """What to present to one registry. ``repr`` and ``str`` never show a secret."""

    username: str | None = None
    password: str | None = None
    identity_token: str | None = None
    """An OAuth2 refresh token (``identitytoken``; helper username ``<token>``)."""
    registry_token: str | None = None
    """A pre-issued bearer token sent to the registry as is (``registrytoken``)."""
    origin: str = "docker config"
    """Where the credentials were found, for messages."""

    @property
    def has_password(self) -> bool:
        """True when a username and password can be sent (Basic auth)."""
        return bool(self.username) and self.password is not None

    def __repr__(self) -> str:
        kinds = [
            name
            for name, value in (
                ("password", self.password),
                ("identity_token", self.identity_token),
                ("registry_token", self.registry_token),
            )
            if value
        ]
        return f"Credentials(username={self.username!r}, secrets={kinds!r}, origin={self.origin!r})"

    __str__ = __repr__


def docker_config_dir(explicit: Path | None = None) -> Path:
    """``explicit``, else ``$DOCKER_CONFIG``, else ``~/.docker``."""
    if explicit is not None:
        return explicit
    env = os.environ.get("DOCKER_CONFIG")
    if env:
        return Path(env)
    return Path.home() / ".docker"


def server_url(registry: str) -> str:
    """The key docker uses for ``registry`` in ``config.json`` and with credential helpers."""
    return DOCKER_HUB_SERVER if registry.lower() in _DOCKER_HUB_HOSTS else registry


def config_key_host(key: str) -> str:
    """The host (and port) of a ``config.json`` key: ``https://h/v2/`` and ``h`` both give ``h``."""
    for prefix in ("https://", "http://"):
        if key.lower().startswith(prefix):
            key = key[len(prefix) :]
            break
    return key.split("/", 1)[0].lower()


def _same_registry(key: str, registry: str) -> bool:
    host, wanted = config_key_host(key), registry.lower()
    if wanted in _DOCKER_HUB_HOSTS:
        return host in _DOCKER_HUB_HOSTS
    return host == wanted


def _lookup(table: Mapping[str, Any], registry: str) -> tuple[str, Any] | None:
    """The entry for ``registry``: the exact docker key first, then any equivalent spelling."""
    exact = server_url(registry)
    if exact in table:
        return exact, table[exact]
    for key in sorted(table):
        if _same_registry(key, registry):
            return key, table[key]
    return None


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    # load_json never quotes the file, which holds secrets.
    return load_json_object(text, str(path), UsageError)


def _optional(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise UsageError(f"{where}: {key} must be a string")
    return value


def _from_auths_entry(entry: object, where: str) -> Credentials | None:
    if not isinstance(entry, dict):
        raise UsageError(f"{where} must be an object")
    username = _optional(entry, "username", where)
    password = _optional(entry, "password", where)
    auth = _optional(entry, "auth", where)
    if auth is not None:
        try:
            decoded = base64.b64decode(auth, validate=True).decode()
        except (binascii.Error, ValueError):  # ValueError: non-ASCII, not UTF-8
            raise UsageError(f"{where}: auth is not base64 of 'user:password'") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise UsageError(f"{where}: auth is not base64 of 'user:password'")
    identity_token = _optional(entry, "identitytoken", where)
    registry_token = _optional(entry, "registrytoken", where)
    if not (username or identity_token or registry_token):
        return None
    return Credentials(
        username=username or None,
        password=password if username else None,
        identity_token=identity_token,
        registry_token=registry_token,
        origin=where,
    )


@dataclass(frozen=True, slots=True)
class HelperCall:
    """A ``docker-credential-<helper> get`` to run for ``server`` (what ``config.json`` says)."""

    helper: str
    server: str

    def __post_init__(self) -> None:
        """Raises :class:`UsageError` for a helper name that is not a plain program suffix."""
        if not _HELPER_NAME.fullmatch(self.helper):
            raise UsageError(f"invalid credential helper name {self.helper!r}")

    @property
    def program(self) -> str:
        """``docker-credential-<helper>``."""
        return f"docker-credential-{self.helper}"

    def not_installed(self) -> UsageError:
        """The error for a helper that is not on ``PATH``."""
        return UsageError(
            f"credential helper {self.program} is not installed (needed for {self.server})"
        )

    def too_slow(self, timeout: float) -> UsageError:
        """The error for a helper that did not answer in time."""
        return UsageError(
            f"credential helper {self.program} did not answer within {timeout:g} s "
            f"for {self.server}"
        )

    def cannot_run(self, exc: OSError) -> UsageError:
        """The error for a helper that could not be started."""
        return UsageError(f"cannot run credential helper {self.program}: {exc.strerror or exc}")

    def answer(self, returncode: int, stdout: bytes, stderr: bytes) -> Credentials | None:
        """Credentials from the helper's exit status and output; ``None`` when it has nothing.

        Raises :class:`UsageError` when it failed or answered something that is not its JSON;
        the message never contains the helper's output.
        """
        if returncode != 0:
            output = (stdout + stderr).decode(errors="replace").lower()
            if "credentials not found" in output:  # the helper protocol's own answer
                return None
            raise UsageError(
                f"credential helper {self.program} failed for {self.server} "
                f"(exit status {returncode})"
            )
        try:
            doc = load_json(stdout, f"credential helper {self.program}", UsageError)
        except UsageError:
            doc = None
        if not isinstance(doc, dict):
            raise UsageError(
                f"credential helper {self.program} returned malformed output for {self.server}"
            )
        username, secret = doc.get("Username"), doc.get("Secret")
        if not isinstance(username, str) or not isinstance(secret, str):
            raise UsageError(
                f"credential helper {self.program} returned malformed output for {self.server}"
            )
        if not secret:
            return None
        origin = f"credential helper {self.program}"
        if username == _TOKEN_USERNAME:
            return Credentials(identity_token=secret, origin=origin)
        return Credentials(username=username, password=secret, origin=origin)


async def run_credential_helper_async(call: HelperCall, timeout: float) -> Credentials | None:
    """Run ``docker-credential-<helper> get`` for the server of ``call``; ``None`` when it has
    nothing. A cancelled call kills the helper and waits for it, so that nothing outlives a
    deadline.

    Raises :class:`UsageError` when the helper is missing, fails, times out or answers
    something that is not its JSON; the message never contains the helper's output.
    """
    try:
        process = await asyncio.create_subprocess_exec(  # fixed argv, no shell
            call.program,
            "get",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise call.not_installed() from None
    except OSError as exc:
        raise call.cannot_run(exc) from None
    try:
        async with asyncio.timeout(timeout):
            stdout, stderr = await process.communicate(call.server.encode())
    except TimeoutError:
        await _kill(process)
        raise call.too_slow(timeout) from None
    except BaseException:
        await _kill(process)
        raise
    assert process.returncode is not None  # communicate() waited for the exit
    return call.answer(process.returncode, stdout, stderr)


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def find_credentials(
    registry: str, config_dir: Path | None = None
) -> Credentials | HelperCall | None:
    """What Docker's ``config.json`` holds for ``registry``: credentials, a helper to run, or
    ``None``. Raises :class:`UsageError` for an unreadable or malformed ``config.json``."""
    path = docker_config_dir(config_dir) / "config.json"
    config = _read_config(path)
    helpers = config.get("credHelpers") or {}
    if not isinstance(helpers, dict):
        raise UsageError(f"{path}: credHelpers must be an object")
    found = _lookup(helpers, registry)
    helper = found[1] if found else config.get("credsStore")
    if helper is not None and helper != "":
        if not isinstance(helper, str):
            raise UsageError(f"{path}: credential helper names must be strings")
        return HelperCall(helper, server_url(registry))
    auths = config.get("auths") or {}
    if not isinstance(auths, dict):
        raise UsageError(f"{path}: auths must be an object")
    entry = _lookup(auths, registry)
    if entry is None:
        return None
    return _from_auths_entry(entry[1], f"{path} auths[{entry[0]!r}]")


async def find_credentials_async(
    registry: str, config_dir: Path | None = None
) -> Credentials | HelperCall | None:
    """:func:`find_credentials` in a worker thread (it reads a file), or ``None`` at once when
    there is no ``config.json``: a thread costs ~2 ms to start, a ``stat`` microseconds.

    Raises :class:`UsageError` as :func:`find_credentials` does.
    """
    try:
        (docker_config_dir(config_dir) / "config.json").stat()
    except FileNotFoundError:
        return None
    except OSError:
        pass  # find_credentials reports it
    return await asyncio.to_thread(find_credentials, registry, config_dir)


class CredentialProvider(Protocol):
    """Where a :class:`~provcheck.source.registry.RegistryClient` gets credentials from."""

    async def credentials(self, registry: str) -> Credentials | None:
        """Credentials for ``registry`` (``host[:port]``), or ``None`` for anonymous access.

        Raises :class:`UsageError` when the configuration cannot be read.
        """
        ...


CREDENTIALS_TTL: Final = 300.0
"""Seconds credentials are kept before ``config.json`` (or its helper) is read again, so that
rotated secrets are picked up by a long-lived client."""
MAX_REGISTRIES: Final = 1024
"""Registries whose credentials are kept at once."""


@dataclass(frozen=True, slots=True)
class _Found:
    credentials: Credentials | None
    until: float


class DockerCredentials:
    """Docker's ``config.json`` (``None``: ``$DOCKER_CONFIG`` or ``~/.docker``), read once per
    registry and again after ``ttl`` seconds; credential helpers run as child processes that a
    deadline kills. At most :data:`MAX_REGISTRIES` registries are kept."""

    def __init__(
        self,
        config_dir: Path | None = None,
        *,
        helper_timeout: float = 20.0,
        ttl: float = CREDENTIALS_TTL,
    ) -> None:
        self._config_dir = config_dir
        self._helper_timeout = helper_timeout
        self._ttl = ttl
        self._found: Lru[str, _Found] = Lru(MAX_REGISTRIES)
        self._locks: KeyedLocks[str] = KeyedLocks()

    def _fresh(self, registry: str) -> _Found | None:
        found = self._found.get(registry)
        if found is not None and found.until <= time.monotonic():
            self._found.pop(registry)
            return None
        return found

    async def credentials(self, registry: str) -> Credentials | None:
        """See :meth:`CredentialProvider.credentials`."""
        found = self._fresh(registry)
        if found is not None:
            return found.credentials
        async with self._locks.hold(registry):
            found = self._fresh(registry)
            if found is None:
                looked_up = await find_credentials_async(registry, self._config_dir)
                if isinstance(looked_up, HelperCall):
                    looked_up = await run_credential_helper_async(looked_up, self._helper_timeout)
                found = _Found(looked_up, time.monotonic() + self._ttl)
                self._found.put(registry, found)
        return found.credentials


def _registry_key(registry: str) -> str:
    """How a registry is looked up: ``host[:port]`` lowercased, Docker Hub as ``docker.io``."""
    host = config_key_host(registry)
    return "docker.io" if host in _DOCKER_HUB_HOSTS else host


class StaticCredentials:
    """Credentials held in memory, per registry (``host[:port]``; config.json keys such as
    ``https://index.docker.io/v1/`` work too), e.g. from a Kubernetes pull secret."""

    def __init__(self, by_registry: Mapping[str, Credentials]) -> None:
        self._by_registry = {_registry_key(key): value for key, value in by_registry.items()}

    @classmethod
    def from_docker_config_json(cls, data: bytes, origin: str = "pull secret") -> StaticCredentials:
        """The ``auths`` of a Docker ``config.json`` document, e.g. the ``.dockerconfigjson``
        of a ``kubernetes.io/dockerconfigjson`` Secret (decoded from base64), read from memory.

        Like the kubelet, only ``auths`` counts (a pull secret cannot run credential helpers).
        Raises :class:`UsageError` for malformed content, never quoting it (it holds secrets).
        """
        config = load_json_object(data, origin, UsageError)
        auths = config.get("auths") or {}
        if not isinstance(auths, dict):
            raise UsageError(f"{origin}: auths must be an object")
        found: dict[str, Credentials] = {}
        for key in sorted(auths, key=lambda k: (k != server_url(_registry_key(k)), k)):
            credentials = _from_auths_entry(auths[key], f"{origin} auths[{key!r}]")
            if credentials is not None:
                found.setdefault(_registry_key(key), credentials)
        return cls(found)

    async def credentials(self, registry: str) -> Credentials | None:
        """See :meth:`CredentialProvider.credentials`."""
        return self._by_registry.get(_registry_key(registry))

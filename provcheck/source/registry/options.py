"""Settings of the registry client: TLS, plain-HTTP hosts, credentials, timeouts and retries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from provcheck.errors import UsageError
from provcheck.source.limiter import DEFAULT_REQUESTS_PER_HOST

DEFAULT_CERTS_DIR: Final = Path("/etc/docker/certs.d")


def default_user_agent() -> str:
    """``provcheck/<version>``; the version comes from :mod:`provcheck` when it defines one."""
    try:
        from provcheck import __version__  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return "provcheck/dev"
    return f"provcheck/{__version__}"


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    """How :class:`~provcheck.source.registry.RegistryClient` talks to registries.

    ``insecure_registries`` lists endpoints (``host`` or ``host:port``, exactly as in the image
    reference) that are spoken to over plain HTTP. Loopback hosts get HTTPS first and plain HTTP
    only when they do not speak TLS, unless ``ca_file`` or a ``certs_dir`` entry names a CA for
    them (then HTTPS only). TLS trusts the system store, plus ``ca_file``, plus Docker's
    ``<certs_dir>/<host:port>/*.crt``. ``docker_config_dir`` ``None`` means ``$DOCKER_CONFIG`` or
    ``~/.docker``. The time budget of a whole call is not here: it is the ``timeout`` of
    :func:`provcheck.inspect_image` and its siblings.
    """

    insecure_registries: frozenset[str] = frozenset()
    ca_file: Path | None = None
    certs_dir: Path = DEFAULT_CERTS_DIR
    docker_config_dir: Path | None = None
    timeout: float = 30.0
    """Read and write timeout of one network operation, in seconds (within the call's budget)."""
    connect_timeout: float = 10.0
    pool_timeout: float = 60.0
    """How long a request may wait for a free connection."""
    max_retries: int = 3
    """Retries after the first try, for 429, 502, 503, 504 and connection errors."""
    backoff_base: float = 0.5
    """First retry delay in seconds; doubled each time, with jitter."""
    max_retry_after: float = 30.0
    """Upper bound of any wait between tries, including a server's ``Retry-After``."""
    max_connections: int = 8
    """Connections per registry endpoint."""
    max_requests_per_host: int = DEFAULT_REQUESTS_PER_HOST
    """Requests in flight per registry endpoint, for every reader of the client together (the
    default limiter; a client given its own ``limiter`` ignores this)."""
    tag_window: float = 2.0
    """Seconds an answer about a tag or a referrers list (which may change) is shared with the
    resolutions of it that come later; ``0`` shares it only among concurrent ones."""
    store_window: float = 2.0
    """Seconds the answers of the signature-store lookups of a digest (cosign ``.att``/``.sig``
    tags, the referrers fallback tag and the referrers API, absences included: a 404 is an
    answer) are shared with later lookups of the same registry, repository and digest on this
    client. An error is never kept: the next lookup asks again (an outage is never "absent").
    Memory only, for the client's life; an audit keeps them for its run
    (:data:`provcheck.audit.run.STORE_WINDOW`)."""
    max_redirects: int = 5
    credential_helper_timeout: float = 20.0
    user_agent: str = field(default_factory=default_user_agent)
    on_request: Callable[[str, bool], None] | None = field(default=None, compare=False, repr=False)
    """Called after every try of a registry request with its host (``host:port``) and whether
    it failed (a status other than 200, a connection error): a seam for metrics. It must not
    raise or block."""

    def __post_init__(self) -> None:
        """Raises :class:`UsageError` for negative counts or non-positive timeouts."""
        if self.max_retries < 0 or self.max_connections < 1 or self.max_redirects < 0:
            raise UsageError("max_retries and max_redirects must be >= 0, max_connections >= 1")
        if self.max_requests_per_host < 1 or self.tag_window < 0 or self.store_window < 0:
            raise UsageError(
                "max_requests_per_host must be >= 1, tag_window >= 0, store_window >= 0"
            )
        if min(self.timeout, self.connect_timeout, self.pool_timeout) <= 0:
            raise UsageError("timeouts must be positive")
        if self.backoff_base < 0 or self.max_retry_after < 0:
            raise UsageError("backoff_base and max_retry_after must be >= 0")

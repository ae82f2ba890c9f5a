"""The registry client: the only package of provcheck that imports httpx."""

from __future__ import annotations

import sys

# httpx's __init__ imports its command-line client (httpx._main) whenever click, rich and
# pygments are all installed (click comes with uvicorn, of the serve extra): ~40 ms and 100
# modules on each cold start, for a client provcheck never runs. Marked missing before httpx is
# first imported, it fails as a missing dependency would, and httpx keeps its stub ``main``.
if "httpx" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]

from provcheck.source.registry.client import RegistryClient, RegistrySource
from provcheck.source.registry.credentials import (
    CredentialProvider,
    Credentials,
    DockerCredentials,
    StaticCredentials,
)
from provcheck.source.registry.options import RegistryOptions

__all__ = [
    "CredentialProvider",
    "Credentials",
    "DockerCredentials",
    "RegistryClient",
    "RegistryOptions",
    "RegistrySource",
    "StaticCredentials",
]

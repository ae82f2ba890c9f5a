"""The registry client: the only package of provcheck that imports httpx."""

from __future__ import annotations

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

"""provcheck: verify the supply-chain attestations of container images.

The library API: :func:`inspect_image` discovers and binds the attestations of an image,
:func:`verify_image` evaluates a policy on them and returns a :class:`Report`; both have async
twins. Nothing here prints or exits; errors are :class:`ProvcheckError` subclasses. Names are
imported on first use, so ``import provcheck`` stays cheap for the command line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from provcheck.api import (
        inspect_image,
        inspect_image_async,
        verify_image,
        verify_image_async,
    )
    from provcheck.discovery.model import ImageAttestations
    from provcheck.discovery.options import DiscoveryOptions
    from provcheck.errors import ProvcheckError
    from provcheck.policy import Policy, load_policy
    from provcheck.report import Report

_LAZY = {
    "DiscoveryOptions": "provcheck.discovery.options",
    "ImageAttestations": "provcheck.discovery.model",
    "Policy": "provcheck.policy",
    "ProvcheckError": "provcheck.errors",
    "Report": "provcheck.report",
    "inspect_image": "provcheck.api",
    "inspect_image_async": "provcheck.api",
    "load_policy": "provcheck.policy",
    "verify_image": "provcheck.api",
    "verify_image_async": "provcheck.api",
}

__all__ = [
    "DiscoveryOptions",
    "ImageAttestations",
    "Policy",
    "ProvcheckError",
    "Report",
    "__version__",
    "inspect_image",
    "inspect_image_async",
    "load_policy",
    "verify_image",
    "verify_image_async",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'provcheck' has no attribute {name!r}")

"""``--platform``: narrow what discovery found to some platforms, or say which exist."""

from __future__ import annotations

import dataclasses

from provcheck.discovery.model import ImageAttestations
from provcheck.errors import PlatformNotFoundError


def known_platforms(found: ImageAttestations) -> tuple[str, ...]:
    """The ``os/arch[/variant]`` keys of the platform images, in index order, each once."""
    keys = (image.platform.key for image in found.images if not image.platform.is_unknown)
    return tuple(dict.fromkeys(keys))


def select_platforms(found: ImageAttestations, platforms: frozenset[str]) -> ImageAttestations:
    """``found`` with only the platform images in ``platforms`` (all of them when empty).

    Raises :class:`PlatformNotFoundError`, naming the platforms that exist, when one of
    ``platforms`` matches no platform image.
    """
    if not platforms:
        return found
    present = known_platforms(found)
    missing = sorted(platforms.difference(present))
    if missing:
        raise PlatformNotFoundError(
            f"{found.reference} has no platform {', '.join(missing)}; "
            f"it has: {', '.join(present) or 'none'}"
        )
    kept = tuple(image for image in found.images if image.platform.key in platforms)
    return dataclasses.replace(found, images=kept)

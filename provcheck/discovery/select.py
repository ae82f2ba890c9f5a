"""``--platform``: which platforms an image has, and narrowing what was found to some of them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from provcheck.discovery.model import ImageAttestations, PlatformImage
from provcheck.errors import PlatformNotFoundError


def known_platforms(found: ImageAttestations) -> tuple[str, ...]:
    """The ``os/arch[/variant]`` keys of the platform images (read or left out), each once."""
    return platform_keys((*found.images, *found.others))


def platform_keys(images: Iterable[PlatformImage]) -> tuple[str, ...]:
    """The known platform keys of ``images``, in order, each once."""
    return tuple(dict.fromkeys(i.platform.key for i in images if not i.platform.is_unknown))


def require_platforms(reference: str, present: tuple[str, ...], wanted: frozenset[str]) -> None:
    """Raise :class:`PlatformNotFoundError`, naming the ``present`` platforms, when one of
    ``wanted`` is not among them."""
    missing = sorted(wanted.difference(present))
    if missing:
        raise PlatformNotFoundError(
            f"{reference} has no platform {', '.join(missing)}; "
            f"it has: {', '.join(present) or 'none'}"
        )


def select_platforms(found: ImageAttestations, platforms: frozenset[str]) -> ImageAttestations:
    """``found`` with only the platform images in ``platforms`` (all of them when empty), and
    only the signed objects that bind to one of them or to none (a rejection is kept).

    The others move to ``others``. Run it after trust is decided (statements bind to every
    platform of the index). Raises :class:`PlatformNotFoundError`, naming the platforms that
    exist, when one of ``platforms`` matches no platform image.
    """
    if not platforms:
        return found
    require_platforms(found.reference, known_platforms(found), platforms)
    kept = tuple(image for image in found.images if image.platform.key in platforms)
    left = tuple(
        PlatformImage(image.descriptor, image.platform)
        for image in found.images
        if image.platform.key not in platforms
    )
    signed = tuple(
        s for s in found.signed if not s.platforms or platforms.intersection(s.platforms)
    )
    return dataclasses.replace(found, images=kept, others=(*found.others, *left), signed=signed)

"""Matching image references against allow-list entries (globs, optional digest pins).

An entry ``oci-layout://NAME[@sha256:…]`` names an image that a named context loaded from a
local OCI layout (a ``pkg:oci`` material, named after the context); every other image entry
names a registry image. Neither kind ever matches the other.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Final

from provcheck.oci.reference import DOCKER_HUB, ImageReference
from provcheck.predicates.slsa import Material

LAYOUT_ENTRY_PREFIX: Final = "oci-layout:"


def normalise_pattern(entry: str) -> tuple[str, str | None]:
    """Split ``name[:tag][@digest]`` (with globs) into a normalised name pattern and a digest.

    ``docker/dockerfile:1.*`` → (``docker.io/docker/dockerfile:1.*``, None); ``alpine`` →
    ``docker.io/library/alpine``. A pattern that starts with a glob is left as it is.
    """
    name, at, digest = entry.partition("@")
    if name.startswith(("*", "?", "[")):
        return name, digest if at else None
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry = "docker.io" if first == "index.docker.io" else first
        name = f"{registry}/{rest}"
    elif sep:
        name = f"{DOCKER_HUB}/{name}"
    else:
        name = f"{DOCKER_HUB}/library/{name}"
    return name, digest.lower() if at else None


def image_matches(entry: str, ref: ImageReference, recorded_digest: str | None) -> bool:
    """True when ``ref`` matches ``entry``.

    The glob is tried against the reference with and without its tag and digest. An entry
    with ``@sha256:…`` also requires ``recorded_digest`` (what the build resolved) to be that
    digest.
    """
    pattern, pinned = normalise_pattern(entry)
    if pinned is not None and (recorded_digest is None or recorded_digest.lower() != pinned):
        return False
    candidates = {ref.name}
    if ref.tag:
        candidates.add(f"{ref.name}:{ref.tag}")
    digest = str(ref.digest) if ref.digest else recorded_digest
    if digest:
        candidates.add(f"{ref.name}@{digest}")
        if ref.tag:
            candidates.add(f"{ref.name}:{ref.tag}@{digest}")
    return any(fnmatchcase(c, pattern) for c in candidates)


def split_layout_entry(entry: str) -> tuple[bool, str]:
    """``(True, NAME…)`` for ``oci-layout://NAME…`` (or ``oci-layout:NAME…``), else
    ``(False, entry)``."""
    if not entry.startswith(LAYOUT_ENTRY_PREFIX):
        return False, entry
    return True, entry[len(LAYOUT_ENTRY_PREFIX) :].removeprefix("//")


def reference_matches(
    entry: str, ref: ImageReference, recorded_digest: str | None, *, local_layout: bool
) -> bool:
    """:func:`image_matches` for an image from a registry or (``local_layout``) an OCI layout."""
    entry_local, pattern = split_layout_entry(entry)
    if entry_local != local_layout or not pattern:
        return False
    return image_matches(pattern, ref, recorded_digest)


def material_matches(entry: str, material: Material) -> bool:
    """True when the image ``material`` records (with its digest) matches ``entry``."""
    ref = material.image
    return ref is not None and reference_matches(
        entry, ref, material.sha256, local_layout=material.local_layout
    )


def text_matches(entry: str, value: str) -> bool:
    """Glob match of a plain string (builder ids, frontend names)."""
    return fnmatchcase(value, entry)

"""Exemptions of a policy (its ``exemptions`` section): images an admission gate allows without
verifying them, by namespace and by image pattern, each until an expiry and for a reason.

An exemption applies while ``now`` is before its expiry; from then on it is ignored (and
``policy lint`` warns about it). A date ``YYYY-MM-DD`` expires at the start of that day (UTC);
an RFC 3339 time must carry its offset. Images are matched as globs (:func:`fnmatch.fnmatchcase`,
``*`` also matching ``/``), normalised as images are (``nginx:*`` is
``docker.io/library/nginx:*``), against the normalised forms of the image
(``registry/repository``, with ``:tag``, with ``@digest``), never against the image as written
(``nginx:*`` then also matched ``nginx:5000/any/image``, of the registry host ``nginx``). Only
``*`` and ``?`` are wildcards: ``[`` is literal, since it opens an IPv6 registry
(``[::1]:5000/…``), which as a character class would match other registries (``1:5000/…``)
and never the one meant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase

from provcheck._internal.clock import parse_instant
from provcheck.errors import PolicyError
from provcheck.oci.reference import DOCKER_HUB
from provcheck.policy.matching import normalise_pattern


def parse_expiry(text: str) -> datetime:
    """The moment ``text`` (``YYYY-MM-DD``, or RFC 3339 with an offset) expires, in UTC.

    Raises :class:`ValueError` for anything else.
    """
    return parse_instant(text)


@dataclass(frozen=True, slots=True)
class Exemption:
    """One entry of ``exemptions``: ``namespace`` and/or ``image`` (a glob), both of which must
    match when given; ``line`` is where it is in the policy file (0 when unknown).

    Raises :class:`PolicyError` without a namespace and an image, or with a naive expiry.
    """

    expires: datetime
    reason: str
    namespace: str | None = None
    image: str | None = None
    line: int = 0

    def __post_init__(self) -> None:
        if self.namespace is None and self.image is None:
            raise PolicyError("an exemption needs a namespace or an image")
        if self.expires.tzinfo is None:
            raise PolicyError("an exemption's expiry needs a time zone")

    @property
    def label(self) -> str:
        """``namespace=NS image=PATTERN`` (the parts it has): how logs and metrics name it."""
        parts = []
        if self.namespace is not None:
            parts.append(f"namespace={self.namespace}")
        if self.image is not None:
            parts.append(f"image={self.image}")
        return " ".join(parts)

    def expired(self, now: datetime) -> bool:
        """True from the expiry on."""
        return now >= self.expires

    def matches(self, namespace: str | None, images: Sequence[str]) -> bool:
        """True when the namespace (if it names one) is ``namespace`` and the pattern (if it has
        one) matches one of ``images`` (the spellings of one image)."""
        if self.namespace is not None and self.namespace != namespace:
            return False
        if self.image is None:
            return True
        pattern = _normalised(self.image).replace("[", "[[]")  # "[" is literal (see above)
        return any(fnmatchcase(name, pattern) for name in images)


def _normalised(pattern: str) -> str:
    """``pattern`` in the normalised form images are matched in: ``nginx:*`` ->
    ``docker.io/library/nginx:*`` (as :func:`~provcheck.policy.matching.normalise_pattern`),
    ``docker.io/nginx`` -> ``docker.io/library/nginx``; one that starts with a glob as it is."""
    name, digest = normalise_pattern(pattern)
    registry, _, rest = name.partition("/")
    if registry == DOCKER_HUB and rest and "/" not in rest and not rest.startswith(("*", "?")):
        name = f"{DOCKER_HUB}/library/{rest}"
    return name if digest is None else f"{name}@{digest}"


def matching(
    exemptions: Iterable[Exemption], namespace: str | None, images: Sequence[str], now: datetime
) -> Exemption | None:
    """The first unexpired exemption that matches (see :meth:`Exemption.matches`), or ``None``."""
    for exemption in exemptions:
        if not exemption.expired(now) and exemption.matches(namespace, images):
            return exemption
    return None


def expired(exemptions: Iterable[Exemption], now: datetime) -> list[Exemption]:
    """The exemptions that no longer apply at ``now``."""
    return [exemption for exemption in exemptions if exemption.expired(now)]

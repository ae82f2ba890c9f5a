"""The one normalised SBOM model: :class:`Component` and :class:`Sbom` (plain, immutable data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

MAX_COMPONENTS: Final = 1_000_000
"""More components than this in one SBOM is refused (:class:`~provcheck.errors.SbomError`)."""


class SbomFormat(StrEnum):
    """The document format of an SBOM (the policy's ``formats`` values)."""

    SPDX = "spdx"
    CYCLONEDX = "cyclonedx"


NO_ASSERTION: Final = "NOASSERTION"
"""SPDX: nothing is asserted (unknown). Never kept as a license: a component with only
``NOASSERTION`` has no license information."""
NO_LICENSE: Final = "NONE"
"""SPDX: the package has no license. Kept as the expression ``NONE``: it passes
``allow-licenses`` only when ``NONE`` is listed, and is denied when ``NONE`` is denied."""


@dataclass(frozen=True, slots=True)
class Component:
    """One package or file of an SBOM, the same whatever the document format.

    ``licenses``: SPDX license expressions, all of which apply (an empty tuple means no license
    information). ``hashes``: ``(algorithm, lowercase hex)`` pairs, algorithm lowercase without
    dashes (``sha256``, ``sha3-256`` keeps its dash). ``type``: CycloneDX component types
    (``library``, ``application``, ``operating-system``, ``file``, ``container``, …);
    SPDX packages map ``primaryPackagePurpose`` onto them. ``pointer``: RFC 6901 pointer to the
    component inside the in-toto statement (``/predicate/packages/3``).
    """

    name: str
    version: str | None
    purl: str | None
    licenses: tuple[str, ...]
    supplier: str | None
    type: str
    hashes: tuple[tuple[str, str], ...]
    pointer: str

    @property
    def display(self) -> str:
        """``purl`` if known, else ``name@version`` (or ``name``)."""
        if self.purl:
            return self.purl
        return f"{self.name}@{self.version}" if self.version else self.name


@dataclass(frozen=True, slots=True)
class Sbom:
    """A parsed SBOM: its format and version, name, and normalised components.

    ``document`` is the original predicate (the SBOM document itself), to be treated as
    read-only; export it with :func:`provcheck.sbom.export.export_sbom`.
    """

    format: SbomFormat
    spec_version: str
    name: str
    components: tuple[Component, ...]
    predicate_type: str
    document: Mapping[str, Any] = field(hash=False, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.components)

"""Convert an SBOM to the other format, and say what the conversion dropped.

SPDX 2.2 / 2.3 -> CycloneDX 1.6 (:mod:`provcheck.sbom.convert_cyclonedx`, built and serialised
with cyclonedx-python-lib, imported lazily: about 150 ms of CPU cold, paid only by a
conversion) and CycloneDX 1.4-1.6 -> SPDX 2.3 JSON (:mod:`provcheck.sbom.convert_spdx`). Both
read the components through the one projection (:mod:`provcheck.sbom.spdx`,
:mod:`provcheck.sbom.cyclonedx`) and the relationships through :mod:`provcheck.sbom.structure`,
so a converted document projects to the same components. Whatever has no equivalent is
counted in :attr:`Conversion.dropped`, and the note is written into the document (CycloneDX
``metadata.properties``, SPDX ``creationInfo.comment``).

A document over :data:`MAX_CONVERTED_ELEMENTS` or :data:`MAX_CONVERTED_RELATIONSHIPS` is
refused (:class:`ConversionLimitError`) by a count of its raw lists, before anything is built:
the conversion costs about 1 ms of CPU per element and 0.1 ms per relationship, so a hostile
document of 64 MiB would take minutes and gigabytes (bench/README.md).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from provcheck.errors import ConversionLimitError, SbomError
from provcheck.sbom.model import NO_ASSERTION, NO_LICENSE, Sbom, SbomFormat

CYCLONEDX_TARGET: Final = "1.6"
SPDX_TARGET: Final = "SPDX-2.3"
NOTE_PROPERTY: Final = "provcheck:conversion:dropped"
SOURCE_PROPERTY: Final = "provcheck:conversion:source"

SPDX_ID: Final = re.compile(r"^SPDXRef-[A-Za-z0-9.-]+$")
NOT_ID_CHARS: Final = re.compile(r"[^A-Za-z0-9.-]+")

MAX_CONVERTED_ELEMENTS: Final = 30_000
"""The most elements converted: SPDX packages + files, CycloneDX components (nested included)
+ ``metadata.component``. A big real image has a few thousand; 20,000 take ~20 s of CPU and
~650 MiB (bench/sbom_caps_bench.py)."""
MAX_CONVERTED_RELATIONSHIPS: Final = 80_000
"""The most relationships converted: SPDX ``relationships`` + ``documentDescribes``, CycloneDX
``dependencies`` entries + their ``dependsOn`` and ``provides`` items (~0.1 ms of CPU and
~3.5 KiB each: 20,000 packages with a ``DESCRIBES`` and 2 dependencies each have 60,000)."""


class Loss(StrEnum):
    """What kind of thing a conversion dropped or changed."""

    FIELD = "field"
    """A field with no equivalent in the target format (``detail`` names it)."""
    RELATIONSHIP = "relationship"
    """A relationship type with no equivalent (``detail``: the type)."""
    FLATTENED = "flattened"
    """A typed SPDX dependency (``BUILD_DEPENDENCY_OF`` …) kept as a plain dependency."""
    DANGLING = "dangling"
    """A relationship or dependency naming an element that is not in the document."""
    HASH = "hash"
    """A hash algorithm the target format does not have (``detail``: the algorithm)."""
    LICENSE = "license"
    """A licence that could not be kept as it was (``detail`` says how)."""
    TYPE = "type"
    """A package purpose or component type with no equivalent, mapped to a generic one."""
    PURL = "purl"
    """A purl that does not parse (CycloneDX keeps only valid purls)."""
    DESCRIBED = "described"
    """Several described elements: CycloneDX has one ``metadata.component``."""
    CONTAINMENT = "containment"
    """Containment that cannot nest (a second container, a cycle, the described element)."""
    IMPLIED = "implied"
    """A top-level CycloneDX component, which CycloneDX reads as part of the described element,
    that SPDX did not say the described element contains."""


@dataclass(frozen=True, slots=True)
class Dropped:
    """``count`` things of one kind that the conversion dropped or changed, and why."""

    loss: Loss
    detail: str
    count: int
    reason: str

    @property
    def message(self) -> str:
        """``"24 x file field 'comment': CycloneDX components have no such field"``."""
        return f"{self.count} x {self.detail}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Conversion:
    """A converted document (indented JSON ending with a newline) and what it dropped."""

    text: str
    source: str
    target: str
    dropped: tuple[Dropped, ...]

    @property
    def note(self) -> str:
        """One line: what was converted, and what was dropped."""
        head = f"converted {self.source} to {self.target}"
        if not self.dropped:
            return f"{head}: nothing dropped"
        return f"{head}; dropped or changed: " + "; ".join(d.message for d in self.dropped)


class LossCounter:
    """Counts what one conversion drops (one instance per conversion)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[Loss, str, str]] = Counter()

    def add(self, loss: Loss, detail: str, reason: str, count: int = 1) -> None:
        if count > 0:
            self._counts[(loss, detail, reason)] += count

    def result(self) -> tuple[Dropped, ...]:
        return tuple(Dropped(k, d, n, r) for (k, d, r), n in sorted(self._counts.items()))


def has_value(value: object) -> bool:
    """False for what asserts nothing: absent, empty, ``NOASSERTION``/``NONE`` (alone or as
    the only item of a list)."""
    if value is None or value == "" or value == [] or value == {}:
        return False
    if isinstance(value, str):
        return value.strip().upper() not in (NO_ASSERTION, NO_LICENSE)
    if isinstance(value, list) and len(value) == 1:
        return has_value(value[0])
    return True


def unknown_fields(
    items: Iterable[Mapping[str, Any]],
    known: frozenset[str],
    what: str,
    reason: str,
    losses: LossCounter,
) -> None:
    counts = Counter(
        k for item in items for k, v in item.items() if k not in known and has_value(v)
    )
    for key, count in counts.items():
        losses.add(Loss.FIELD, f"{what} field {key!r}", reason, count)


def convert_sbom(sbom: Sbom, target: SbomFormat) -> Conversion:
    """``sbom`` converted to ``target`` (CycloneDX 1.6 or SPDX 2.3 JSON).

    Raises :class:`SbomError` when ``target`` is the SBOM's own format (export the original
    instead), or when the document cannot be converted (duplicate element identifiers);
    :class:`ConversionLimitError` as :func:`check_size`.
    """
    if target is sbom.format:
        raise SbomError(f"the SBOM is already {target.value}: export the original document")
    check_size(sbom)
    if target is SbomFormat.CYCLONEDX:
        from provcheck.sbom.convert_cyclonedx import to_cyclonedx

        return to_cyclonedx(sbom)
    from provcheck.sbom.convert_spdx import to_spdx

    return to_spdx(sbom)


def _length(value: object) -> int:
    return len(value) if isinstance(value, list) else 0


def check_size(sbom: Sbom) -> None:
    """Raise :class:`ConversionLimitError` when ``sbom`` has more elements than
    :data:`MAX_CONVERTED_ELEMENTS` or relationships than :data:`MAX_CONVERTED_RELATIONSHIPS`
    (counted on the raw lists: a malformed one is left to the conversion to refuse)."""
    doc = sbom.document
    if sbom.format is SbomFormat.SPDX:
        elements = _length(doc.get("packages")) + _length(doc.get("files"))
        relationships = _length(doc.get("relationships")) + _length(doc.get("documentDescribes"))
    else:
        elements = len(sbom.components) + 1
        dependencies = doc.get("dependencies")
        items = dependencies if isinstance(dependencies, list) else []
        relationships = len(items) + sum(
            _length(x.get("dependsOn")) + _length(x.get("provides"))
            for x in items
            if isinstance(x, dict)
        )
    for what, count, limit in (
        ("elements", elements, MAX_CONVERTED_ELEMENTS),
        ("relationships", relationships, MAX_CONVERTED_RELATIONSHIPS),
    ):
        if count > limit:
            raise ConversionLimitError(
                f"the {sbom.format.value} SBOM has {count} {what}, more than the {limit} a "
                "conversion takes: not converted (export it with --format original)",
                what=what,
                count=count,
                limit=limit,
            )


def parse_timestamp(text: object) -> datetime.datetime | None:
    """An ISO 8601 timestamp (``Z`` or an offset), or None when ``text`` is not one (or is out
    of range once in UTC, as ``9999-12-31T23:59:59-23:59``)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment.astimezone(datetime.UTC)
    except (ValueError, OverflowError):
        return None
    return moment


def document_digest(doc: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``doc`` (names a document that has no identifier)."""
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def spdx_ids(refs: Iterable[str]) -> dict[str, str]:
    """bom-ref -> SPDXID (kept when it already is one; otherwise made from it, unique)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for ref in refs:
        spdx_id = (
            ref
            if SPDX_ID.match(ref)
            else "SPDXRef-" + (NOT_ID_CHARS.sub("-", ref).strip("-") or "element")
        )
        candidate, n = spdx_id, 1
        while candidate in used:
            n += 1
            candidate = f"{spdx_id}-{n}"
        used.add(candidate)
        out[ref] = candidate
    return out


def joined_licenses(licenses: Iterable[str]) -> str:
    """Licences that all apply as one SPDX expression: ``A``, or ``A AND (B OR C)``."""
    parts = list(licenses)
    if len(parts) == 1:
        return parts[0]
    return " AND ".join(f"({x})" if " " in x else x for x in parts)

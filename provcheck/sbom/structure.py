"""What an SBOM says about its components beyond their fields: identifiers, the described
element, and which component contains or depends on which (one reading for both formats).

SPDX: each package and file is known by its ``SPDXID``; ``documentDescribes`` and the
document's ``DESCRIBES`` relationships name the described elements; ``CONTAINS`` /
``CONTAINED_BY`` are containment, ``DEPENDS_ON`` and every ``*DEPENDENCY_OF`` are
dependencies. CycloneDX: each component is known by its ``bom-ref``; ``metadata.component``
is the described element and contains the top-level components, a component contains its
nested ``components``; ``dependencies[].dependsOn`` are dependencies. Linear in the document
size; plain data, no third-party import.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from provcheck.errors import SbomError
from provcheck.sbom._common import expect_list, expect_object, optional_str
from provcheck.sbom.model import Component, Sbom, SbomFormat

SPDX_DOCUMENT_ID: Final = "SPDXRef-DOCUMENT"
_DEPENDENCY_OF: Final = frozenset(
    {
        "DEPENDENCY_OF",
        "BUILD_DEPENDENCY_OF",
        "DEV_DEPENDENCY_OF",
        "OPTIONAL_DEPENDENCY_OF",
        "PROVIDED_DEPENDENCY_OF",
        "RUNTIME_DEPENDENCY_OF",
        "TEST_DEPENDENCY_OF",
    }
)
"""SPDX relationship types ``A <type> B`` that mean "B depends on A"."""


class Relation(StrEnum):
    """How one element relates to another, in the terms both formats share."""

    CONTAINS = "contains"
    DEPENDS_ON = "depends-on"


@dataclass(frozen=True, slots=True)
class Edge:
    """``source`` contains or depends on ``target`` (both element references)."""

    source: str
    relation: Relation
    target: str


@dataclass(frozen=True, slots=True)
class Element:
    """One package, file or component and the reference the document knows it by."""

    ref: str
    component: Component


@dataclass(frozen=True, slots=True)
class SbomStructure:
    """The elements of an SBOM and how they relate.

    ``elements``: every element, the CycloneDX ``metadata.component`` first (it is not one of
    :attr:`Sbom.components`), then the components in document order. ``described``: the refs
    of the described elements. ``edges``: deduplicated, in document order. ``flattened``:
    SPDX dependency relationships read as plain dependencies (type -> count), ``unmapped``:
    relationship types with no meaning here (type -> count), ``dangling``: relationships naming
    an element that is not in the document.
    """

    elements: tuple[Element, ...]
    described: tuple[str, ...]
    edges: tuple[Edge, ...]
    flattened: tuple[tuple[str, int], ...] = ()
    unmapped: tuple[tuple[str, int], ...] = ()
    dangling: int = 0

    def of(self, relation: Relation) -> frozenset[tuple[str, str]]:
        """The ``(source, target)`` pairs of one relation."""
        return frozenset((e.source, e.target) for e in self.edges if e.relation is relation)


def _refs(items: list[Any], where: str, key: str, prefix: str) -> list[str]:
    refs: list[str] = []
    for i, raw in enumerate(items):
        at = f"{where}/{i}"
        ref = optional_str(expect_object(raw, at).get(key), f"{at}/{key}")
        refs.append(ref if ref is not None else f"{prefix}{i}")
    return refs


def _unique(refs: list[str], what: str) -> None:
    seen: set[str] = set()
    for ref in refs:
        if ref in seen:
            raise SbomError(f"two {what} have the same reference {ref[:100]!r}")
        seen.add(ref)


def spdx_structure(sbom: Sbom, pointer: str = "/predicate") -> SbomStructure:
    """The structure of a parsed SPDX 2.2 / 2.3 SBOM.

    An element without an ``SPDXID`` gets ``SPDXRef-provcheck-package-<n>`` (or ``-file-``).
    Raises :class:`SbomError` for two elements with the same ``SPDXID`` or a malformed
    relationship.
    """
    doc = sbom.document
    packages = expect_list(doc.get("packages"), f"{pointer}/packages")
    files = expect_list(doc.get("files"), f"{pointer}/files")
    refs = _refs(packages, f"{pointer}/packages", "SPDXID", "SPDXRef-provcheck-package-")
    refs += _refs(files, f"{pointer}/files", "SPDXID", "SPDXRef-provcheck-file-")
    _unique(refs, "SPDX elements")
    known = set(refs)
    described: dict[str, None] = {}
    dangling = 0
    for i, raw in enumerate(
        expect_list(doc.get("documentDescribes"), f"{pointer}/documentDescribes")
    ):
        ref = optional_str(raw, f"{pointer}/documentDescribes/{i}")
        if ref in known:
            described[ref] = None
        else:
            dangling += 1
    edges: dict[Edge, None] = {}
    flattened: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    for i, raw in enumerate(expect_list(doc.get("relationships"), f"{pointer}/relationships")):
        at = f"{pointer}/relationships/{i}"
        item = expect_object(raw, at)
        a = optional_str(item.get("spdxElementId"), f"{at}/spdxElementId")
        kind = (optional_str(item.get("relationshipType"), f"{at}/relationshipType") or "").upper()
        b = optional_str(item.get("relatedSpdxElement"), f"{at}/relatedSpdxElement")
        if kind in ("DESCRIBES", "DESCRIBED_BY"):
            document, element = (a, b) if kind == "DESCRIBES" else (b, a)
            if document == SPDX_DOCUMENT_ID and element in known:
                described[element] = None
            elif document != SPDX_DOCUMENT_ID:
                unmapped[kind] += 1
            else:
                dangling += 1
            continue
        if kind in ("CONTAINS", "CONTAINED_BY"):
            edge = (a, Relation.CONTAINS, b) if kind == "CONTAINS" else (b, Relation.CONTAINS, a)
        elif kind == "DEPENDS_ON":
            edge = (a, Relation.DEPENDS_ON, b)
        elif kind in _DEPENDENCY_OF:
            edge = (b, Relation.DEPENDS_ON, a)
            if kind != "DEPENDENCY_OF":
                flattened[kind] += 1
        else:
            unmapped[kind or "(no type)"] += 1
            continue
        source, relation, target = edge
        if source in known and target in known:
            edges[Edge(source, relation, target)] = None
        else:
            dangling += 1
    return SbomStructure(
        elements=tuple(Element(r, c) for r, c in zip(refs, sbom.components, strict=True)),
        described=tuple(described),
        edges=tuple(edges),
        flattened=tuple(sorted(flattened.items())),
        unmapped=tuple(sorted(unmapped.items())),
        dangling=dangling,
    )


def cyclonedx_structure(sbom: Sbom, pointer: str = "/predicate") -> SbomStructure:
    """The structure of a parsed CycloneDX SBOM (``metadata.component`` as the first element).

    A component without a ``bom-ref`` gets ``provcheck-component-<n>``. Raises
    :class:`SbomError` for two components with the same ``bom-ref`` or a malformed
    ``metadata.component`` or ``dependencies``.
    """
    from provcheck.sbom.cyclonedx import metadata_component

    doc = sbom.document
    elements: list[Element] = []
    root = metadata_component(doc, pointer)
    if root is not None:
        raw = object_at(doc, root.pointer, pointer)
        ref = optional_str(raw.get("bom-ref"), f"{root.pointer}/bom-ref")
        elements.append(Element(ref or "provcheck-metadata-component", root))
    by_pointer: dict[str, str] = {}
    items = [object_at(doc, c.pointer, pointer) for c in sbom.components]
    for n, (component, item) in enumerate(zip(sbom.components, items, strict=True)):
        ref = optional_str(item.get("bom-ref"), f"{component.pointer}/bom-ref")
        elements.append(Element(ref or f"provcheck-component-{n}", component))
        by_pointer[component.pointer] = elements[-1].ref
    _unique([e.ref for e in elements], "CycloneDX components")
    known = {e.ref for e in elements}
    edges: dict[Edge, None] = {}
    for component in sbom.components:
        child = by_pointer[component.pointer]
        head, _, _ = component.pointer.rpartition("/components/")
        if head in by_pointer:
            edges[Edge(by_pointer[head], Relation.CONTAINS, child)] = None
        elif root is not None and head == pointer:  # top level: in the described one
            edges[Edge(elements[0].ref, Relation.CONTAINS, child)] = None
    dangling = 0
    unmapped: Counter[str] = Counter()
    for i, raw in enumerate(expect_list(doc.get("dependencies"), f"{pointer}/dependencies")):
        at = f"{pointer}/dependencies/{i}"
        item = expect_object(raw, at)
        source = optional_str(item.get("ref"), f"{at}/ref")
        unmapped["provides"] += len(expect_list(item.get("provides"), f"{at}/provides"))
        for j, raw_target in enumerate(expect_list(item.get("dependsOn"), f"{at}/dependsOn")):
            target = optional_str(raw_target, f"{at}/dependsOn/{j}")
            if source is not None and target is not None and source in known and target in known:
                edges[Edge(source, Relation.DEPENDS_ON, target)] = None
            else:
                dangling += 1
    unmapped = +unmapped  # drop zero counts
    return SbomStructure(
        elements=tuple(elements),
        described=(elements[0].ref,) if root is not None else (),
        edges=tuple(edges),
        unmapped=tuple(sorted(unmapped.items())),
        dangling=dangling,
    )


def object_at(doc: Mapping[str, Any], at: str, pointer: str) -> dict[str, Any]:
    """The component object at the RFC 6901 ``at`` (made by the projection, so well-formed)."""
    node: Any = doc
    for part in at.removeprefix(pointer).strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return expect_object(node, at)


def read_structure(sbom: Sbom) -> SbomStructure:
    """:func:`spdx_structure` or :func:`cyclonedx_structure`, by format. Raises what they raise."""
    if sbom.format is SbomFormat.SPDX:
        return spdx_structure(sbom)
    return cyclonedx_structure(sbom)

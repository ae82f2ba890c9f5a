"""SPDX 2.2 / 2.3 -> CycloneDX 1.6, built and serialised with cyclonedx-python-lib (Bom,
Component, Dependency, LicenseFactory, JsonV1Dot6): the described element becomes
``metadata.component``, packages and files components, ``CONTAINS`` nesting (the described
element's own containment is the top level), ``DEPENDS_ON`` and ``*DEPENDENCY_OF``
dependencies. Imported by :func:`provcheck.sbom.convert.convert_sbom` only.
"""

from __future__ import annotations

import json
import re
import types
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from provcheck.errors import SbomError
from provcheck.sbom._common import expect_list, expect_object, optional_str
from provcheck.sbom.convert import (
    CYCLONEDX_TARGET,
    NOTE_PROPERTY,
    SOURCE_PROPERTY,
    Conversion,
    Loss,
    LossCounter,
    document_digest,
    has_value,
    parse_timestamp,
    unknown_fields,
)
from provcheck.sbom.model import Component, Sbom
from provcheck.sbom.structure import Relation, SbomStructure, spdx_structure

if TYPE_CHECKING:
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component as CdxComponent

_SPDX_DOCUMENT_KEYS: Final = frozenset(
    {"spdxVersion", "SPDXID", "name", "documentNamespace", "creationInfo", "dataLicense"}
    | {"packages", "files", "relationships", "documentDescribes"}
)
_SPDX_PACKAGE_KEYS: Final = frozenset(
    {"SPDXID", "name", "versionInfo", "supplier", "externalRefs", "checksums", "description"}
    | {"licenseConcluded", "licenseDeclared", "primaryPackagePurpose", "copyrightText"}
)
_SPDX_FILE_KEYS: Final = frozenset(
    {"SPDXID", "fileName", "checksums", "licenseConcluded", "copyrightText"}
)
_CDX_HASHES: Final = {
    "md5": "MD5",
    "sha1": "SHA-1",
    "sha256": "SHA-256",
    "sha384": "SHA-384",
    "sha512": "SHA-512",
    "sha3-256": "SHA3-256",
    "sha3-384": "SHA3-384",
    "sha3-512": "SHA3-512",
    "blake2b-256": "BLAKE2b-256",
    "blake2b-384": "BLAKE2b-384",
    "blake2b-512": "BLAKE2b-512",
    "blake3": "BLAKE3",
}
"""Projection hash names (:func:`provcheck.sbom._common.hash_algorithm`) -> CycloneDX ``alg``."""
_CDX_HASH_CONTENT: Final = re.compile(
    r"[a-fA-F0-9]{32}|[a-fA-F0-9]{40}|[a-fA-F0-9]{64}|[a-fA-F0-9]{96}|[a-fA-F0-9]{128}"
)
"""What CycloneDX 1.6's schema accepts as a hash's ``content``."""
_CDX_TYPES: Final = frozenset(
    {"application", "framework", "library", "container", "platform", "operating-system"}
    | {"device", "device-driver", "firmware", "file", "machine-learning-model", "data"}
    | {"cryptographic-asset"}
)


def _nesting(structure: SbomStructure, root: str | None, losses: LossCounter) -> dict[str, str]:
    """child ref -> parent ref: the first container of each element, without cycles; the
    described element's own containment is the top level."""
    reason = "a CycloneDX component nests in one parent"
    parent: dict[str, str] = {}
    for source, target in (
        (e.source, e.target) for e in structure.edges if e.relation is Relation.CONTAINS
    ):
        if source == root:
            continue
        if target == root or target in parent or source == target:
            losses.add(Loss.CONTAINMENT, "containment relationship", reason)
            continue
        ancestor: str | None = source
        while ancestor is not None and ancestor != target:
            ancestor = parent.get(ancestor)
        if ancestor == target:  # target already contains source: a cycle
            losses.add(Loss.CONTAINMENT, "containment relationship", "it would make a cycle")
            continue
        parent[target] = source
    return _within_depth(parent, losses)


def _within_depth(parent: dict[str, str], losses: LossCounter) -> dict[str, str]:
    """``parent`` less the links that would nest deeper than CycloneDX readers go (the
    projection refuses more than ``MAX_DEPTH`` levels): such a child moves to the top level."""
    from collections import deque

    from provcheck.sbom.cyclonedx import MAX_DEPTH

    children: dict[str, list[str]] = {}
    for child, container in parent.items():
        children.setdefault(container, []).append(child)
    queue = deque((ref, 0) for ref in children if ref not in parent)
    kept = dict(parent)
    while queue:
        ref, depth = queue.popleft()
        for child in children.get(ref, ()):
            if depth + 1 >= MAX_DEPTH:
                del kept[child]
                losses.add(
                    Loss.CONTAINMENT,
                    "containment relationship",
                    f"CycloneDX nesting is kept within {MAX_DEPTH} levels",
                )
                queue.append((child, 0))
            else:
                queue.append((child, depth + 1))
    return kept


def _cdx_licenses(
    raw: Mapping[str, Any], licenses: tuple[str, ...], losses: LossCounter
) -> list[Any]:
    from cyclonedx.contrib.license.factories import LicenseFactory
    from cyclonedx.model.license import LicenseAcknowledgement

    if not licenses:
        return []
    concluded = has_value(raw.get("licenseConcluded"))
    declared = raw.get("licenseDeclared")
    if concluded and has_value(declared) and str(declared).strip() != licenses[0]:
        losses.add(
            Loss.LICENSE,
            "declared licence beside a different concluded one",
            "the concluded licence is kept (the one provcheck's policies read)",
        )
    ack = LicenseAcknowledgement.CONCLUDED if concluded else LicenseAcknowledgement.DECLARED
    factory = LicenseFactory()
    out = [factory.make_from_string(text, license_acknowledgement=ack) for text in licenses]
    for text, made in zip(licenses, out, strict=True):
        kept = (
            getattr(made, "value", None) or getattr(made, "id", None) or getattr(made, "name", None)
        )
        if kept != text:
            losses.add(Loss.LICENSE, "licence id", "written in the SPDX list's spelling")
    return out


def _cdx_hashes(pairs: tuple[tuple[str, str], ...], losses: LossCounter) -> list[Any]:
    from cyclonedx.model import HashAlgorithm, HashType

    out = []
    for algorithm, value in pairs:
        name = _CDX_HASHES.get(algorithm)
        if name is None:
            losses.add(
                Loss.HASH, f"{algorithm.upper()} checksum", "CycloneDX has no such algorithm"
            )
            continue
        if not _CDX_HASH_CONTENT.fullmatch(value):
            losses.add(
                Loss.HASH,
                f"{algorithm.upper()} checksum",
                "not the hex of a digest (CycloneDX's schema refuses it)",
            )
            continue
        out.append(HashType(alg=HashAlgorithm(name), content=value))
    return out


def _cdx_component(
    ref: str, c: Component, raw: Mapping[str, Any], losses: LossCounter
) -> CdxComponent:
    from cyclonedx.model.component import Component as Built
    from cyclonedx.model.component import ComponentType
    from cyclonedx.model.contact import OrganizationalEntity
    from packageurl import PackageURL

    kind = c.type
    if kind not in _CDX_TYPES:
        losses.add(Loss.TYPE, f"package purpose {kind.upper()}", "no CycloneDX type: library")
        kind = "library"
    purl = None
    if c.purl is not None:
        try:
            purl = PackageURL.from_string(c.purl)
        except ValueError:
            losses.add(Loss.PURL, "invalid purl", "CycloneDX keeps only valid purls")
        else:
            if purl.to_string() != c.purl:
                losses.add(Loss.PURL, "purl", "written in its canonical form (same package)")
    cpe = None
    for i, entry in enumerate(expect_list(raw.get("externalRefs"), f"{c.pointer}/externalRefs")):
        ref_type = optional_str(expect_object(entry, c.pointer).get("referenceType"), c.pointer)
        if ref_type in ("cpe23Type", "cpe22Type") and cpe is None:
            cpe = optional_str(entry.get("referenceLocator"), f"{c.pointer}/externalRefs/{i}")
        elif ref_type != "purl" or purl is None:
            losses.add(
                Loss.FIELD,
                f"package external reference {ref_type or '(no type)'}",
                "not kept (CycloneDX keeps one purl and one CPE)",
            )
    copyright_text = raw.get("copyrightText")
    description = raw.get("description")
    return Built(
        name=c.name,
        type=ComponentType(kind),
        bom_ref=ref,
        version=c.version,
        purl=purl,
        cpe=cpe,
        supplier=OrganizationalEntity(name=c.supplier) if c.supplier else None,
        licenses=_cdx_licenses(raw, c.licenses, losses),
        hashes=_cdx_hashes(c.hashes, losses),
        copyright=str(copyright_text) if has_value(copyright_text) else None,
        description=str(description) if has_value(description) else None,
    )


def _tools_and_authors(creators: list[Any]) -> tuple[list[Any], list[Any]]:
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.contact import OrganizationalContact

    tools, authors = [], []
    for creator in creators:
        kind, _, who = str(creator).partition(":")
        who = who.strip()
        if kind.strip() == "Tool" and who:
            name, dash, version = who.rpartition("-")
            if not dash or not (
                version[:1].isdigit() or (version[:1] == "v" and version[1:2].isdigit())
            ):
                name, version = who, ""
            tools.append(
                Component(type=ComponentType.APPLICATION, name=name, version=version or None)
            )
        elif who:
            authors.append(OrganizationalContact(name=who))
    return tools, authors


def to_cyclonedx(sbom: Sbom) -> Conversion:
    """``sbom`` (SPDX) as CycloneDX 1.6. Raises :class:`SbomError` as :func:`convert_sbom`."""
    from cyclonedx.contrib.license.factories import LicenseFactory
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.dependency import Dependency
    from cyclonedx.model.tool import ToolRepository

    doc = sbom.document
    losses = LossCounter()
    structure = spdx_structure(sbom)
    packages = [expect_object(p, "") for p in expect_list(doc.get("packages"), "/predicate")]
    files = [expect_object(f, "") for f in expect_list(doc.get("files"), "/predicate")]
    no_field = "CycloneDX components have no such field"
    unknown_fields(packages, _SPDX_PACKAGE_KEYS, "package", no_field, losses)
    unknown_fields(files, _SPDX_FILE_KEYS, "file", no_field, losses)
    unknown_fields([doc], _SPDX_DOCUMENT_KEYS, "document", "CycloneDX has no such field", losses)
    info = expect_object(doc.get("creationInfo") or {}, "/predicate/creationInfo")
    unknown_fields(
        [info],
        frozenset({"created", "creators"}),
        "creationInfo",
        "CycloneDX has no such field",
        losses,
    )
    for kind, count in structure.unmapped:
        losses.add(
            Loss.RELATIONSHIP, f"{kind} relationship", "CycloneDX has no such relation", count
        )
    for kind, count in structure.flattened:
        losses.add(Loss.FLATTENED, f"{kind} relationship", "kept as a plain dependency", count)
    losses.add(
        Loss.DANGLING, "relationship", "names an element not in the document", structure.dangling
    )

    root = structure.described[0] if len(structure.described) == 1 else None
    if len(structure.described) > 1:
        losses.add(
            Loss.DESCRIBED,
            "described element",
            "CycloneDX has one metadata.component: all kept as components",
            len(structure.described),
        )
    built = {
        element.ref: _cdx_component(element.ref, element.component, raw, losses)
        for element, raw in zip(structure.elements, [*packages, *files], strict=True)
    }
    parent = _nesting(structure, root, losses)
    for child, container in parent.items():
        built[container].components.add(built[child])
    top = [ref for ref in built if ref != root and ref not in parent]
    if root is not None:
        held = structure.of(Relation.CONTAINS)
        losses.add(
            Loss.IMPLIED,
            "top-level component",
            "CycloneDX reads it as part of metadata.component; SPDX did not say so",
            sum((root, ref) not in held for ref in top),
        )
    depends: dict[str, list[str]] = {}
    for source, target in (
        (e.source, e.target) for e in structure.edges if e.relation is Relation.DEPENDS_ON
    ):
        depends.setdefault(source, []).append(target)

    dropped = losses.result()
    source = str(doc.get("spdxVersion"))
    properties = [Property(name=SOURCE_PROPERTY, value=f"{source} {doc.get('name') or ''}".strip())]
    properties += [Property(name=NOTE_PROPERTY, value=d.message) for d in dropped]
    tools, authors = _tools_and_authors(
        expect_list(info.get("creators"), "/predicate/creationInfo")
    )
    data_license = optional_str(doc.get("dataLicense"), "/predicate/dataLicense")
    bom = Bom(
        components=[built[ref] for ref in top],
        serial_number=uuid.uuid5(
            uuid.NAMESPACE_URL, str(doc.get("documentNamespace") or document_digest(doc))
        ),
        metadata=BomMetaData(
            component=built[root] if root is not None else None,
            timestamp=parse_timestamp(info.get("created")),
            tools=ToolRepository(components=tools),
            authors=authors,
            licenses=[LicenseFactory().make_from_string(data_license)]
            if data_license is not None and has_value(data_license)
            else [],
            properties=properties,
        ),
    )
    for ref, targets in depends.items():
        bom.dependencies.add(
            Dependency(
                ref=built[ref].bom_ref,
                dependencies=[Dependency(ref=built[t].bom_ref) for t in targets],
            )
        )
    return Conversion(_serialise(bom), source, f"CycloneDX {CYCLONEDX_TARGET}", dropped)


def _register_in_linear_time(bom: Bom) -> None:
    """Give ``bom`` a ``register_dependency`` with the library's meaning that finds a
    registered dependency by a dict lookup: the library's own scans every dependency, and
    ``Bom.validate`` calls it once per component, which is quadratic (25 s for 8,000
    components here, 1.7 s with this). A subclass would lose the serialisation metadata."""
    from cyclonedx.model.dependency import Dependable, Dependency

    index = {d.ref: d for d in bom.dependencies}

    def register_dependency(
        self: Bom, target: Dependable, depends_on: Iterable[Dependable] | None = None
    ) -> None:
        targets = list(depends_on or ())
        found = index.get(target.bom_ref)
        if found is None:  # built whole before it goes into the (sorted) set, as the library
            found = Dependency(
                ref=target.bom_ref, dependencies=[Dependency(ref=d.bom_ref) for d in targets]
            )
            self.dependencies.add(found)
            index[target.bom_ref] = found
        elif targets:
            found.dependencies.update(Dependency(ref=d.bom_ref) for d in targets)
        for dependency in targets:
            register_dependency(self, dependency)

    bom.register_dependency = types.MethodType(register_dependency, bom)  # type: ignore[method-assign]


def _serialise(bom: Bom) -> str:
    """CycloneDX 1.6 JSON through the library's outputter (which validates references)."""
    import warnings

    from cyclonedx.exception import CycloneDxException
    from cyclonedx.output.json import JsonV1Dot6

    _register_in_linear_time(bom)
    try:
        with warnings.catch_warnings():
            # "the described component has no dependencies": SPDX said none, nothing to fix
            warnings.simplefilter("ignore", UserWarning)
            text = JsonV1Dot6(bom).output_as_string(indent=2)
    except CycloneDxException as exc:
        raise SbomError(f"cannot build the CycloneDX document: {exc}") from exc
    return json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"

"""Convert an SBOM to the other format, and say what the conversion dropped.

SPDX 2.2 / 2.3 -> CycloneDX 1.6, built and serialised with cyclonedx-python-lib (the only
other module that imports ``cyclonedx``, lazily: about 0.4 s cold, paid only by a conversion).
CycloneDX 1.4-1.6 -> SPDX 2.3 JSON. Both read the components through the one projection
(:mod:`provcheck.sbom.spdx`, :mod:`provcheck.sbom.cyclonedx`) and the relationships through
:mod:`provcheck.sbom.structure`, so a converted document projects to the same components.
Whatever has no equivalent is counted in :attr:`Conversion.dropped`, and the note is written
into the document (CycloneDX ``metadata.properties``, SPDX ``creationInfo.comment``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import types
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from provcheck.errors import SbomError
from provcheck.sbom._common import expect_list, expect_object, optional_str
from provcheck.sbom.model import NO_ASSERTION, NO_LICENSE, Component, Sbom, SbomFormat
from provcheck.sbom.structure import (
    SPDX_DOCUMENT_ID,
    Relation,
    SbomStructure,
    cyclonedx_structure,
    object_at,
    spdx_structure,
)

if TYPE_CHECKING:
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component as CdxComponent

CYCLONEDX_TARGET: Final = "1.6"
SPDX_TARGET: Final = "SPDX-2.3"
NOTE_PROPERTY: Final = "provcheck:conversion:dropped"
SOURCE_PROPERTY: Final = "provcheck:conversion:source"

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
_CDX_DOCUMENT_KEYS: Final = frozenset(
    {"bomFormat", "specVersion", "serialNumber", "version", "metadata", "components"}
    | {"dependencies", "$schema"}
)
_CDX_METADATA_KEYS: Final = frozenset({"timestamp", "tools", "component"})
_CDX_COMPONENT_KEYS: Final = frozenset(
    {"type", "bom-ref", "name", "version", "purl", "cpe", "licenses", "hashes", "supplier"}
    | {"publisher", "description", "copyright", "components"}
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
_SPDX_HASHES: Final = {
    "md5": "MD5",
    "sha1": "SHA1",
    "sha256": "SHA256",
    "sha384": "SHA384",
    "sha512": "SHA512",
    "sha3-256": "SHA3-256",
    "sha3-384": "SHA3-384",
    "sha3-512": "SHA3-512",
    "blake2b-256": "BLAKE2b-256",
    "blake2b-384": "BLAKE2b-384",
    "blake2b-512": "BLAKE2b-512",
    "blake3": "BLAKE3",
}
"""Projection hash names -> SPDX ``algorithm``."""
_CDX_TYPES: Final = frozenset(
    {"application", "framework", "library", "container", "platform", "operating-system"}
    | {"device", "device-driver", "firmware", "file", "machine-learning-model", "data"}
    | {"cryptographic-asset"}
)
_SPDX_PURPOSES: Final = {
    "application": "APPLICATION",
    "framework": "FRAMEWORK",
    "library": "LIBRARY",
    "container": "CONTAINER",
    "operating-system": "OPERATING_SYSTEM",
    "device": "DEVICE",
    "firmware": "FIRMWARE",
    "file": "FILE",
}
"""CycloneDX component types -> SPDX 2.3 ``primaryPackagePurpose``."""
_SPDX_ID: Final = re.compile(r"^SPDXRef-[A-Za-z0-9.-]+$")
_NOT_ID_CHARS: Final = re.compile(r"[^A-Za-z0-9.-]+")


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


class _Losses:
    """Counts what one conversion drops (one instance per conversion)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[Loss, str, str]] = Counter()

    def add(self, loss: Loss, detail: str, reason: str, count: int = 1) -> None:
        if count > 0:
            self._counts[(loss, detail, reason)] += count

    def result(self) -> tuple[Dropped, ...]:
        return tuple(Dropped(k, d, n, r) for (k, d, r), n in sorted(self._counts.items()))


def _has_value(value: object) -> bool:
    """False for what asserts nothing: absent, empty, ``NOASSERTION``/``NONE`` (alone or as
    the only item of a list)."""
    if value is None or value == "" or value == [] or value == {}:
        return False
    if isinstance(value, str):
        return value.strip().upper() not in (NO_ASSERTION, NO_LICENSE)
    if isinstance(value, list) and len(value) == 1:
        return _has_value(value[0])
    return True


def _unknown_fields(
    items: Iterable[Mapping[str, Any]],
    known: frozenset[str],
    what: str,
    reason: str,
    losses: _Losses,
) -> None:
    counts = Counter(
        k for item in items for k, v in item.items() if k not in known and _has_value(v)
    )
    for key, count in counts.items():
        losses.add(Loss.FIELD, f"{what} field {key!r}", reason, count)


def convert_sbom(sbom: Sbom, target: SbomFormat) -> Conversion:
    """``sbom`` converted to ``target`` (CycloneDX 1.6 or SPDX 2.3 JSON).

    Raises :class:`SbomError` when ``target`` is the SBOM's own format (export the original
    instead), or when the document cannot be converted (duplicate element identifiers).
    """
    if target is sbom.format:
        raise SbomError(f"the SBOM is already {target.value}: export the original document")
    if target is SbomFormat.CYCLONEDX:
        return _to_cyclonedx(sbom)
    return _to_spdx(sbom)


# -- SPDX -> CycloneDX --------------------------------------------------------------------------
def _nesting(structure: SbomStructure, root: str | None, losses: _Losses) -> dict[str, str]:
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
    return parent


def _cdx_licenses(raw: Mapping[str, Any], licenses: tuple[str, ...], losses: _Losses) -> list[Any]:
    from cyclonedx.contrib.license.factories import LicenseFactory
    from cyclonedx.model.license import LicenseAcknowledgement

    if not licenses:
        return []
    concluded = _has_value(raw.get("licenseConcluded"))
    declared = raw.get("licenseDeclared")
    if concluded and _has_value(declared) and str(declared).strip() != licenses[0]:
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


def _cdx_hashes(pairs: tuple[tuple[str, str], ...], losses: _Losses) -> list[Any]:
    from cyclonedx.model import HashAlgorithm, HashType

    out = []
    for algorithm, value in pairs:
        name = _CDX_HASHES.get(algorithm)
        if name is None:
            losses.add(
                Loss.HASH, f"{algorithm.upper()} checksum", "CycloneDX has no such algorithm"
            )
            continue
        out.append(HashType(alg=HashAlgorithm(name), content=value))
    return out


def _cdx_component(ref: str, c: Component, raw: Mapping[str, Any], losses: _Losses) -> CdxComponent:
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
        copyright=str(copyright_text) if _has_value(copyright_text) else None,
        description=str(description) if _has_value(description) else None,
    )


def _spdx_timestamp(text: object) -> datetime.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


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


def _to_cyclonedx(sbom: Sbom) -> Conversion:
    from cyclonedx.contrib.license.factories import LicenseFactory
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.dependency import Dependency
    from cyclonedx.model.tool import ToolRepository

    doc = sbom.document
    losses = _Losses()
    structure = spdx_structure(sbom)
    packages = [expect_object(p, "") for p in expect_list(doc.get("packages"), "/predicate")]
    files = [expect_object(f, "") for f in expect_list(doc.get("files"), "/predicate")]
    no_field = "CycloneDX components have no such field"
    _unknown_fields(packages, _SPDX_PACKAGE_KEYS, "package", no_field, losses)
    _unknown_fields(files, _SPDX_FILE_KEYS, "file", no_field, losses)
    _unknown_fields([doc], _SPDX_DOCUMENT_KEYS, "document", "CycloneDX has no such field", losses)
    info = expect_object(doc.get("creationInfo") or {}, "/predicate/creationInfo")
    _unknown_fields(
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
            uuid.NAMESPACE_URL, str(doc.get("documentNamespace") or _digest(doc))
        ),
        metadata=BomMetaData(
            component=built[root] if root is not None else None,
            timestamp=_spdx_timestamp(info.get("created")),
            tools=ToolRepository(components=tools),
            authors=authors,
            licenses=[LicenseFactory().make_from_string(data_license)]
            if data_license is not None and _has_value(data_license)
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


def _digest(doc: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


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


# -- CycloneDX -> SPDX --------------------------------------------------------------------------
def spdx_ids(refs: Iterable[str]) -> dict[str, str]:
    """bom-ref -> SPDXID (kept when it already is one; otherwise made from it, unique)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for ref in refs:
        spdx_id = (
            ref
            if _SPDX_ID.match(ref)
            else "SPDXRef-" + (_NOT_ID_CHARS.sub("-", ref).strip("-") or "element")
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


def _spdx_license(
    raw: Mapping[str, Any], where: str, extracted: dict[str, str], losses: _Losses
) -> tuple[str, bool]:
    """The SPDX expression of a component's licences, and whether all were only declared."""
    parts: list[str] = []
    acknowledged: list[object] = []
    for i, entry in enumerate(expect_list(raw.get("licenses"), f"{where}/licenses")):
        at = f"{where}/licenses/{i}"
        choice = expect_object(entry, at)
        expression = optional_str(choice.get("expression"), f"{at}/expression")
        if expression is not None:
            acknowledged.append(choice.get("acknowledgement"))
            parts.append(expression.strip())
            continue
        lic = expect_object(choice.get("license"), f"{at}/license")
        acknowledged.append(lic.get("acknowledgement"))
        lic_id = optional_str(lic.get("id"), f"{at}/license/id")
        if lic_id is not None:
            parts.append(lic_id.strip())
            continue
        name = (optional_str(lic.get("name"), f"{at}/license/name") or "").strip()
        ref = "LicenseRef-" + (_NOT_ID_CHARS.sub("-", name).strip("-") or "unnamed")
        extracted[ref] = name
        losses.add(
            Loss.LICENSE,
            "licence name without an SPDX id",
            "written as a LicenseRef- with the name in hasExtractedLicensingInfos",
        )
        parts.append(ref)
    declared = bool(acknowledged) and all(a == "declared" for a in acknowledged)
    return joined_licenses(parts), declared


def _spdx_package(
    spdx_id: str, c: Component, raw: Mapping[str, Any], extracted: dict[str, str], losses: _Losses
) -> dict[str, Any]:
    expression, declared = _spdx_license(raw, c.pointer, extracted, losses)
    package: dict[str, Any] = {"SPDXID": spdx_id, "name": c.name}
    if c.version is not None:
        package["versionInfo"] = c.version
    if c.supplier is not None:
        package["supplier"] = f"Organization: {c.supplier}"
    package["downloadLocation"] = NO_ASSERTION
    package["filesAnalyzed"] = False
    package["licenseConcluded"] = expression if expression and not declared else NO_ASSERTION
    package["licenseDeclared"] = expression if expression and declared else NO_ASSERTION
    copyright_text = optional_str(raw.get("copyright"), f"{c.pointer}/copyright")
    package["copyrightText"] = copyright_text or NO_ASSERTION
    description = optional_str(raw.get("description"), f"{c.pointer}/description")
    if description is not None:
        package["description"] = description
    checksums = []
    for algorithm, value in c.hashes:
        name = _SPDX_HASHES.get(algorithm)
        if name is None:
            losses.add(Loss.HASH, f"{algorithm.upper()} hash", "SPDX has no such algorithm")
            continue
        checksums.append({"algorithm": name, "checksumValue": value})
    if checksums:
        package["checksums"] = checksums
    refs = []
    if c.purl is not None:
        refs.append(
            {
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": c.purl,
            }
        )
    cpe = optional_str(raw.get("cpe"), f"{c.pointer}/cpe")
    if cpe is not None:
        kind = "cpe23Type" if cpe.startswith("cpe:2.3:") else "cpe22Type"
        refs.append(
            {"referenceCategory": "SECURITY", "referenceType": kind, "referenceLocator": cpe}
        )
    if refs:
        package["externalRefs"] = refs
    purpose = _SPDX_PURPOSES.get(c.type)
    if purpose is None:
        losses.add(Loss.TYPE, f"component type {c.type}", "no SPDX purpose: OTHER")
        purpose = "OTHER"
    package["primaryPackagePurpose"] = purpose
    return package


def _spdx_created(metadata: Mapping[str, Any]) -> str:
    stamp = _spdx_timestamp(metadata.get("timestamp"))
    if stamp is None or stamp.tzinfo is None:
        stamp = datetime.datetime.now(datetime.UTC)
    return stamp.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cdx_metadata_rest(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` less what SPDX keeps or needs not keep: the licence of the BOM data when it
    is SPDX's own (``CC0-1.0``) and the notes of an earlier conversion."""
    rest = dict(metadata)
    if rest.get("licenses") == [{"license": {"id": "CC0-1.0"}}]:
        del rest["licenses"]
    properties = rest.get("properties")
    if isinstance(properties, list):
        rest["properties"] = [
            p
            for p in properties
            if not (isinstance(p, dict) and str(p.get("name")).startswith("provcheck:conversion:"))
        ]
    return rest


def _to_spdx(sbom: Sbom) -> Conversion:
    from provcheck import __version__

    doc = sbom.document
    losses = _Losses()
    structure = cyclonedx_structure(sbom)
    raws = [object_at(doc, e.component.pointer, "/predicate") for e in structure.elements]
    no_field = "SPDX packages have no such field"
    no_such = "SPDX has no such field"
    _unknown_fields(raws, _CDX_COMPONENT_KEYS, "component", no_field, losses)
    for key, value in doc.items():
        if key not in _CDX_DOCUMENT_KEYS and _has_value(value):
            count = len(value) if isinstance(value, list) else 1
            losses.add(Loss.FIELD, f"document section {key!r}", "SPDX has no such section", count)
    metadata = expect_object(doc.get("metadata") or {}, "/predicate/metadata")
    _unknown_fields([_cdx_metadata_rest(metadata)], _CDX_METADATA_KEYS, "metadata", no_such, losses)
    if structure.described:
        nested = expect_list(raws[0].get("components"), "/predicate/metadata/component/components")
        losses.add(
            Loss.FIELD,
            "metadata.component nested component",
            "not read (provcheck reads the BOM's components)",
            len(nested),
        )
    for kind, count in structure.unmapped:
        losses.add(Loss.RELATIONSHIP, f"dependency {kind}", "SPDX has no such relationship", count)
    losses.add(
        Loss.DANGLING, "dependency", "names a component not in the document", structure.dangling
    )

    ids = spdx_ids(e.ref for e in structure.elements)
    extracted: dict[str, str] = {}
    packages = [
        _spdx_package(ids[e.ref], e.component, raw, extracted, losses)
        for e, raw in zip(structure.elements, raws, strict=True)
    ]
    described = list(structure.described) or [
        e.ref for e in structure.elements if e.component.pointer.count("/components/") == 1
    ]
    relationships = [
        {
            "spdxElementId": SPDX_DOCUMENT_ID,
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": ids[r],
        }
        for r in described
    ]
    relationships += [
        {
            "spdxElementId": ids[e.source],
            "relationshipType": "CONTAINS" if e.relation is Relation.CONTAINS else "DEPENDS_ON",
            "relatedSpdxElement": ids[e.target],
        }
        for e in structure.edges
    ]
    dropped = losses.result()
    version = str(doc.get("specVersion"))
    note = f"Converted from CycloneDX {version} by provcheck {__version__}."
    if dropped:
        note += " Dropped or changed: " + "; ".join(d.message for d in dropped) + "."
    tools = []
    raw_tools = metadata.get("tools")
    tool_items = raw_tools.get("components", []) if isinstance(raw_tools, dict) else raw_tools or []
    for tool in expect_list(tool_items, "/predicate/metadata/tools"):
        if isinstance(tool, dict) and isinstance(tool.get("name"), str):
            version_text = tool.get("version")
            tools.append(
                f"Tool: {tool['name']}"
                + (f"-{version_text}" if isinstance(version_text, str) else "")
            )
    root_name = structure.elements[0].component.name if structure.described else ""
    serial = optional_str(doc.get("serialNumber"), "/predicate/serialNumber")
    out: dict[str, Any] = {
        "spdxVersion": SPDX_TARGET,
        "dataLicense": "CC0-1.0",
        "SPDXID": SPDX_DOCUMENT_ID,
        "name": root_name or sbom.name or "sbom",
        "documentNamespace": serial or f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, _digest(doc))}",
        "creationInfo": {
            "created": _spdx_created(metadata),
            "creators": [*tools, f"Tool: provcheck-{__version__}"],
            "comment": note,
        },
        "packages": packages,
        "relationships": relationships,
    }
    if extracted:
        out["hasExtractedLicensingInfos"] = [
            {"licenseId": ref, "name": name, "extractedText": name}
            for ref, name in sorted(extracted.items())
        ]
    return Conversion(
        json.dumps(out, indent=2, ensure_ascii=False) + "\n",
        f"CycloneDX {version}",
        SPDX_TARGET,
        dropped,
    )

"""CycloneDX 1.4-1.6 -> SPDX 2.3 JSON: ``metadata.component`` becomes the described package
(else each top-level component is described), components packages (``file`` ones with purpose
``FILE``), nesting and the described element's top level ``CONTAINS``, ``dependencies``
``DEPENDS_ON``. Imported by :func:`provcheck.sbom.convert.convert_sbom` only.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Mapping
from typing import Any, Final

from provcheck.sbom._common import expect_list, expect_object, optional_str
from provcheck.sbom.convert import (
    NOT_ID_CHARS,
    SPDX_TARGET,
    Conversion,
    Loss,
    LossCounter,
    document_digest,
    has_value,
    joined_licenses,
    parse_timestamp,
    spdx_ids,
    unknown_fields,
)
from provcheck.sbom.model import NO_ASSERTION, Component, Sbom
from provcheck.sbom.structure import (
    SPDX_DOCUMENT_ID,
    Relation,
    cyclonedx_structure,
    object_at,
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


def _spdx_license(
    raw: Mapping[str, Any], where: str, extracted: dict[str, str], losses: LossCounter
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
        ref = "LicenseRef-" + (NOT_ID_CHARS.sub("-", name).strip("-") or "unnamed")
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
    spdx_id: str,
    c: Component,
    raw: Mapping[str, Any],
    extracted: dict[str, str],
    losses: LossCounter,
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
    stamp = parse_timestamp(metadata.get("timestamp"))
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


def to_spdx(sbom: Sbom) -> Conversion:
    """``sbom`` (CycloneDX) as SPDX 2.3. Raises :class:`SbomError` as :func:`convert_sbom`."""
    from provcheck import __version__

    doc = sbom.document
    losses = LossCounter()
    structure = cyclonedx_structure(sbom)
    raws = [object_at(doc, e.component.pointer, "/predicate") for e in structure.elements]
    no_field = "SPDX packages have no such field"
    no_such = "SPDX has no such field"
    unknown_fields(raws, _CDX_COMPONENT_KEYS, "component", no_field, losses)
    for key, value in doc.items():
        if key not in _CDX_DOCUMENT_KEYS and has_value(value):
            count = len(value) if isinstance(value, list) else 1
            losses.add(Loss.FIELD, f"document section {key!r}", "SPDX has no such section", count)
    metadata = expect_object(doc.get("metadata") or {}, "/predicate/metadata")
    unknown_fields([_cdx_metadata_rest(metadata)], _CDX_METADATA_KEYS, "metadata", no_such, losses)
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
        "documentNamespace": serial
        or f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, document_digest(doc))}",
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

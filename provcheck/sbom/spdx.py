"""SPDX 2.2 and 2.3 JSON: a linear projection onto :class:`~provcheck.sbom.model.Component`.

spdx-tools is not used (quadratic validation, dependencies.md §7): the fields read are checked
by hand, with the JSON pointer of the offending value in the error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from provcheck.errors import SbomError
from provcheck.sbom._common import expect_list, expect_object, hash_pairs, optional_str
from provcheck.sbom.model import MAX_COMPONENTS, NO_ASSERTION, Component, Sbom, SbomFormat

SPDX_VERSIONS: Final = frozenset({"SPDX-2.2", "SPDX-2.3"})
_PACKAGE_MANAGER: Final = frozenset({"PACKAGE-MANAGER", "PACKAGE_MANAGER"})
_PURPOSES: Final = {
    "APPLICATION": "application",
    "FRAMEWORK": "framework",
    "LIBRARY": "library",
    "CONTAINER": "container",
    "OPERATING-SYSTEM": "operating-system",
    "DEVICE": "device",
    "FIRMWARE": "firmware",
    "SOURCE": "source",
    "ARCHIVE": "archive",
    "FILE": "file",
    "INSTALL": "install",
    "OTHER": "other",
}


def _licenses(item: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """The concluded license if one is asserted, else the declared one, else nothing."""
    for key in ("licenseConcluded", "licenseDeclared"):
        value = optional_str(item.get(key), f"{where}/{key}")
        if value is not None and value.strip().upper() != NO_ASSERTION:
            return (value.strip(),)
    return ()


def _supplier(item: Mapping[str, Any], where: str) -> str | None:
    value = optional_str(item.get("supplier"), f"{where}/supplier")
    if value is None or value.strip().upper() == NO_ASSERTION:
        return None
    kind, sep, name = value.partition(":")
    return name.strip() if sep and kind.strip() in ("Organization", "Person") else value.strip()


def _purl(item: Mapping[str, Any], where: str) -> str | None:
    for i, raw in enumerate(expect_list(item.get("externalRefs"), f"{where}/externalRefs")):
        at = f"{where}/externalRefs/{i}"
        ref = expect_object(raw, at)
        kind = optional_str(ref.get("referenceType"), f"{at}/referenceType")
        category = optional_str(ref.get("referenceCategory"), f"{at}/referenceCategory")
        if kind == "purl" and category in _PACKAGE_MANAGER:
            return optional_str(ref.get("referenceLocator"), f"{at}/referenceLocator")
    return None


def _package(raw: object, where: str) -> Component:
    item = expect_object(raw, where)
    name = optional_str(item.get("name"), f"{where}/name")
    if name is None:
        raise SbomError(f"{where} has no name")
    purpose = optional_str(item.get("primaryPackagePurpose"), f"{where}/primaryPackagePurpose")
    return Component(
        name=name,
        version=optional_str(item.get("versionInfo"), f"{where}/versionInfo"),
        purl=_purl(item, where),
        licenses=_licenses(item, where),
        supplier=_supplier(item, where),
        type=_PURPOSES.get((purpose or "LIBRARY").upper().replace("_", "-"), "other"),
        hashes=hash_pairs(item, where, "checksums", "algorithm", "checksumValue"),
        pointer=where,
    )


def _file(raw: object, where: str) -> Component:
    item = expect_object(raw, where)
    name = optional_str(item.get("fileName"), f"{where}/fileName")
    if name is None:
        raise SbomError(f"{where} has no fileName")
    return Component(
        name=name,
        version=None,
        purl=None,
        licenses=_licenses(item, where),
        supplier=None,
        type="file",
        hashes=hash_pairs(item, where, "checksums", "algorithm", "checksumValue"),
        pointer=where,
    )


def parse_spdx(
    document: Mapping[str, Any], predicate_type: str, pointer: str = "/predicate"
) -> Sbom:
    """Project an SPDX 2.2 / 2.3 JSON document (packages, then files).

    ``pointer`` locates the document in the statement. Raises :class:`SbomError` for another
    format or version, a wrong type on a field read, a package without a name, or more than
    :data:`MAX_COMPONENTS` packages and files.
    """
    if "bomFormat" in document:
        raise SbomError(f"the predicate type is {predicate_type} but the document is CycloneDX")
    version = document.get("spdxVersion")
    if not isinstance(version, str) or version not in SPDX_VERSIONS:
        if isinstance(version, str) and version.startswith("SPDX-3"):
            raise SbomError(f"{version} is not supported (SPDX 2.2 and 2.3 JSON are)")
        shown = "missing" if version is None else repr(str(version)[:40])
        raise SbomError(f"not an SPDX 2.2/2.3 document: spdxVersion is {shown}")
    packages = expect_list(document.get("packages"), f"{pointer}/packages")
    files = expect_list(document.get("files"), f"{pointer}/files")
    if len(packages) + len(files) > MAX_COMPONENTS:
        raise SbomError(
            f"the SBOM has {len(packages) + len(files)} packages and files, more than the "
            f"{MAX_COMPONENTS} allowed"
        )
    components = [_package(p, f"{pointer}/packages/{i}") for i, p in enumerate(packages)]
    components.extend(_file(f, f"{pointer}/files/{i}") for i, f in enumerate(files))
    name = document.get("name")
    return Sbom(
        format=SbomFormat.SPDX,
        spec_version=version,
        name=name if isinstance(name, str) else "",
        components=tuple(components),
        predicate_type=predicate_type,
        document=document,
    )

"""CycloneDX 1.4, 1.5 and 1.6 JSON: a linear projection, and linear full-schema validation.

Imports ``cyclonedx`` only for :func:`cyclonedx_validator`, lazily (the one other importer is
:mod:`provcheck.sbom.convert`, which builds CycloneDX documents with the library's model).
:func:`parse_cyclonedx` reads the fields it needs with ``json``-level checks; it never calls
``Bom.from_json`` (0.6 ms per component, dependencies.md §3). The library's
``JsonStrictValidator`` is quadratic (``uniqueItems`` compares every pair of components); the
validator here uses the library's schema files with a hashing ``uniqueItems`` check, which keeps
the same meaning and is linear.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from provcheck.errors import SbomError
from provcheck.sbom._common import expect_list, expect_object, hash_pairs, optional_str
from provcheck.sbom.model import MAX_COMPONENTS, Component, Sbom, SbomFormat

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

CYCLONEDX_VERSIONS: Final = ("1.4", "1.5", "1.6")
MAX_DEPTH: Final = 64
"""Components nested deeper than this are refused."""


def _licenses(item: Mapping[str, Any], where: str) -> tuple[str, ...]:
    out: list[str] = []
    for i, raw in enumerate(expect_list(item.get("licenses"), f"{where}/licenses")):
        at = f"{where}/licenses/{i}"
        choice = expect_object(raw, at)
        expression = optional_str(choice.get("expression"), f"{at}/expression")
        if expression is not None:
            out.append(expression.strip())
            continue
        lic = expect_object(choice.get("license"), f"{at}/license")
        value = optional_str(lic.get("id"), f"{at}/license/id") or optional_str(
            lic.get("name"), f"{at}/license/name"
        )
        if value is None:
            raise SbomError(f"{at}/license has neither an id nor a name")
        out.append(value.strip())
    return tuple(out)


def _supplier(item: Mapping[str, Any], where: str) -> str | None:
    raw = item.get("supplier")
    if raw is None:
        return optional_str(item.get("publisher"), f"{where}/publisher")
    return optional_str(expect_object(raw, f"{where}/supplier").get("name"), f"{where}/supplier")


def _component(item: dict[str, Any], where: str) -> Component:
    name = optional_str(item.get("name"), f"{where}/name")
    if name is None:
        raise SbomError(f"{where} has no name")
    return Component(
        name=name,
        version=optional_str(item.get("version"), f"{where}/version"),
        purl=optional_str(item.get("purl"), f"{where}/purl"),
        licenses=_licenses(item, where),
        supplier=_supplier(item, where),
        type=optional_str(item.get("type"), f"{where}/type") or "library",
        hashes=hash_pairs(item, where, "hashes", "alg", "content"),
        pointer=where,
    )


def _walk(components: list[Any], where: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Components in document order, nested ones after their parent (no recursion)."""
    stack: list[tuple[list[Any], str, int, int]] = [(components, where, 0, 0)]
    while stack:
        items, at, i, depth = stack.pop()
        if i >= len(items):
            continue
        stack.append((items, at, i + 1, depth))
        pointer = f"{at}/{i}"
        item = expect_object(items[i], pointer)
        yield item, pointer
        nested = expect_list(item.get("components"), f"{pointer}/components")
        if nested:
            if depth >= MAX_DEPTH:
                raise SbomError(f"{pointer}: components nest more than {MAX_DEPTH} levels")
            stack.append((nested, f"{pointer}/components", 0, depth + 1))


def parse_cyclonedx(
    document: Mapping[str, Any], predicate_type: str, pointer: str = "/predicate"
) -> Sbom:
    """Project a CycloneDX 1.4-1.6 JSON document: ``components`` (nested ones included).

    ``metadata.component`` (the subject itself) is not a component. Raises :class:`SbomError`
    for another format or version, a wrong type on a field read, a component without a name, or
    more than :data:`MAX_COMPONENTS` components.
    """
    if document.get("bomFormat") != "CycloneDX":
        if "spdxVersion" in document:
            raise SbomError(f"the predicate type is {predicate_type} but the document is SPDX")
        raise SbomError('not a CycloneDX document: bomFormat is not "CycloneDX"')
    version = document.get("specVersion")
    if version not in CYCLONEDX_VERSIONS:
        raise SbomError(
            f"CycloneDX specVersion {str(version)[:20]!r} is not supported "
            f"({', '.join(CYCLONEDX_VERSIONS)} are)"
        )
    top = expect_list(document.get("components"), f"{pointer}/components")
    components: list[Component] = []
    for item, at in _walk(top, f"{pointer}/components"):
        components.append(_component(item, at))
        if len(components) > MAX_COMPONENTS:
            raise SbomError(f"the SBOM has more than {MAX_COMPONENTS} components")
    metadata = document.get("metadata")
    name = ""
    if isinstance(metadata, dict) and isinstance(metadata.get("component"), dict):
        name = str(metadata["component"].get("name") or "")
    return Sbom(
        format=SbomFormat.CYCLONEDX,
        spec_version=version,
        name=name,
        components=tuple(components),
        predicate_type=predicate_type,
        document=document,
    )


def metadata_component(
    document: Mapping[str, Any], pointer: str = "/predicate"
) -> Component | None:
    """``metadata.component`` (what the BOM describes) projected like a component, or None.

    Raises :class:`SbomError` when it is malformed.
    """
    metadata = expect_object(document.get("metadata") or {}, f"{pointer}/metadata")
    raw = metadata.get("component")
    if raw is None:
        return None
    at = f"{pointer}/metadata/component"
    return _component(expect_object(raw, at), at)


# -- full schema validation --------------------------------------------------------------------
def _unique_items(
    validator: Validator, unique: object, instance: object, schema: object
) -> Iterator[Any]:
    """``uniqueItems`` by hashing canonical JSON: linear instead of pairwise."""
    from jsonschema import ValidationError

    if not unique or not isinstance(instance, list):
        return
    seen: set[str] = set()
    for item in instance:
        key = json.dumps(item, sort_keys=True)
        if key in seen:
            yield ValidationError(f"{json.dumps(item)[:80]} is not unique")
            return
        seen.add(key)


@cache
def cyclonedx_validator(version: str) -> Validator:
    """The validator of the official CycloneDX ``version`` JSON schema that cyclonedx-python-lib
    bundles (built once): Draft 7 with format checks and a linear ``uniqueItems``.

    Raises :class:`SbomError` when the library has no JSON schema for ``version``.
    """
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.schema._res import BOM_JSON_STRICT, CRYPTOGRAPHY_DEFS, JSF, SPDX_JSON
    from jsonschema import Draft7Validator, validators
    from referencing import Registry
    from referencing.jsonschema import DRAFT7

    path = BOM_JSON_STRICT.get(SchemaVersion.from_version(version))
    if path is None:
        raise SbomError(f"no CycloneDX {version} JSON schema in cyclonedx-python-lib")
    prefix = "http://cyclonedx.org/schema/"
    resources = []
    for name, file in (
        ("spdx.SNAPSHOT.schema.json", SPDX_JSON),
        ("cryptography-defs.SNAPSHOT.schema.json", CRYPTOGRAPHY_DEFS),
        ("jsf-0.82.SNAPSHOT.schema.json", JSF),
    ):
        with open(file, encoding="utf-8") as fh:
            resources.append((prefix + name, DRAFT7.create_resource(json.load(fh))))
    with open(path, encoding="utf-8") as fh:
        schema = json.load(fh)
    linear = validators.extend(Draft7Validator, {"uniqueItems": _unique_items})  # type: ignore[no-untyped-call]
    validator: Validator = linear(
        schema,
        registry=Registry().with_resources(resources),
        format_checker=Draft7Validator.FORMAT_CHECKER,
    )
    return validator


def validate_cyclonedx_schema(document: Mapping[str, Any]) -> None:
    """Validate against the official CycloneDX JSON schema of its ``specVersion`` (1.4-1.6).

    Same verdict as cyclonedx-python-lib's ``JsonStrictValidator``, in linear time (about
    0.3 ms per component: not for the hot path). Raises :class:`SbomError` naming the first
    error and its JSON pointer.
    """
    version = document.get("specVersion")
    if version not in CYCLONEDX_VERSIONS:
        raise SbomError(f"CycloneDX specVersion {str(version)[:20]!r} is not supported")
    error = next(iter(cyclonedx_validator(str(version)).iter_errors(document)), None)
    if error is not None:
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        raise SbomError(f"CycloneDX schema: {where}: {error.message[:300]}")

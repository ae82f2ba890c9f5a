"""Validate an original SBOM document against the official JSON schema of its version.

CycloneDX 1.4-1.6: the schemas cyclonedx-python-lib bundles
(:func:`provcheck.sbom.cyclonedx.cyclonedx_validator`). SPDX 2.2 and 2.3: the official
``spdx-schema.json`` files vendored in ``schemas/`` (source and licence in
``schemas/README.md``). Each validator is built once and reused, and both grow linearly with
the document (``bench/sbom_validate_bench.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import islice
from typing import TYPE_CHECKING, Any, Final

from provcheck.errors import SbomError
from provcheck.sbom.model import SbomFormat

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

SPDX_SCHEMAS: Final = {"SPDX-2.2": "spdx-2.2.schema.json", "SPDX-2.3": "spdx-2.3.schema.json"}
DEFAULT_MAX_ERRORS: Final = 10
_MAX_MESSAGE: Final = 300


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    """One schema violation: the JSON path of the offending value (``$.packages[3].name``)
    and the reason."""

    path: str
    message: str


@dataclass(frozen=True, slots=True)
class SchemaReport:
    """The verdict on one document: the schema used, and its first problems (at most the
    limit asked for; ``more`` tells that there were others)."""

    schema: str
    problems: tuple[SchemaProblem, ...]
    more: bool = False

    @property
    def valid(self) -> bool:
        """True when the document has no problem at all."""
        return not self.problems


@cache
def spdx_validator(version: str) -> Validator:
    """The validator of the vendored SPDX ``version`` schema (``SPDX-2.2`` or ``SPDX-2.3``),
    built once; Draft 7, formats not checked (the schema uses patterns).

    Raises :class:`SbomError` for another version.
    """
    from jsonschema import Draft7Validator

    name = SPDX_SCHEMAS.get(version)
    if name is None:
        raise SbomError(f"no SPDX JSON schema for {version[:40]!r} (SPDX 2.2 and 2.3 have one)")
    schema = json.loads(resources.files(__package__).joinpath("schemas", name).read_text("utf-8"))
    validator: Validator = Draft7Validator(schema)
    return validator


def _select(fmt: SbomFormat, document: Mapping[str, Any]) -> tuple[str, Validator]:
    """The schema's name and its validator. Raises :class:`SbomError` when there is none."""
    if fmt is SbomFormat.SPDX:
        version = str(document.get("spdxVersion"))
        return f"SPDX {version.removeprefix('SPDX-')} JSON schema", spdx_validator(version)
    from provcheck.sbom.cyclonedx import CYCLONEDX_VERSIONS, cyclonedx_validator

    version = str(document.get("specVersion"))
    if version not in CYCLONEDX_VERSIONS:
        raise SbomError(
            f"no CycloneDX JSON schema for specVersion {version[:20]!r} "
            f"({', '.join(CYCLONEDX_VERSIONS)} have one)"
        )
    return f"CycloneDX {version} JSON schema", cyclonedx_validator(version)


def validate_schema(
    fmt: SbomFormat, document: Mapping[str, Any], max_errors: int = DEFAULT_MAX_ERRORS
) -> SchemaReport:
    """Validate the original ``document`` (of format ``fmt``) against its official schema.

    Keeps the first ``max_errors`` problems (in the validator's order, which is stable). A
    version without a schema is a problem at ``$.spdxVersion`` / ``$.specVersion``, not an
    exception. Raises ``ValueError`` for ``max_errors`` < 1.
    """
    if max_errors < 1:
        raise ValueError("max_errors must be at least 1")
    try:
        name, validator = _select(fmt, document)
    except SbomError as exc:
        key = "spdxVersion" if fmt is SbomFormat.SPDX else "specVersion"
        return SchemaReport(f"{fmt.value} JSON schema", (SchemaProblem(f"$.{key}", str(exc)),))
    errors = list(islice(validator.iter_errors(document), max_errors + 1))
    problems = tuple(
        SchemaProblem(error.json_path, error.message[:_MAX_MESSAGE])
        for error in errors[:max_errors]
    )
    return SchemaReport(name, problems, more=len(errors) > max_errors)

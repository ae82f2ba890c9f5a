"""Reading back provcheck's own versioned JSON documents (reports, found attestations).

Two steps, as the style guide asks: the ``schemaVersion`` is checked first (a document of another
version is a :class:`SchemaVersionError`, not a list of schema violations), then the document is
validated against the schema shipped beside the module that writes it, by a validator built once
per schema; only then does ``from_dict`` build typed values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from provcheck._internal.jsonload import load_json_object
from provcheck.errors import DocumentError, SchemaVersionError

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator


@cache
def _validator(package: str, name: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    schema = json.loads(resources.files(package).joinpath(name).read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def load_document(data: str | bytes, what: str) -> dict[str, Any]:
    """Strict JSON text -> an object. Raises :class:`DocumentError`."""
    return load_json_object(data, what, DocumentError)


def check_document(
    data: Mapping[str, Any], *, version: str, package: str, schema: str, what: str
) -> None:
    """Check that ``data`` is a ``version`` document valid against ``package``/``schema``.

    Raises :class:`SchemaVersionError` for a missing or other ``schemaVersion`` and
    :class:`DocumentError` (naming the first violation's path, never its value) when invalid.
    """
    found = data.get("schemaVersion")
    if found != version:
        shown = found if isinstance(found, str) else None
        raise SchemaVersionError(
            f"{what}: schemaVersion {str(shown)[:80]!r} is not {version!r}",
            found=shown,
            expected=version,
        )
    from jsonschema.exceptions import best_match

    error = best_match(_validator(package, schema).iter_errors(data))
    if error is not None:
        path = "/" + "/".join(str(p) for p in error.absolute_path)
        raise DocumentError(
            f"{what} is not a valid {version} document at {path} ({error.validator})"
        )

"""in-toto Statement v0.1 and v1, parsed from strict JSON into immutable values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from provcheck._internal.jsonload import load_json_object
from provcheck.errors import StatementError

STATEMENT_V01: Final = "https://in-toto.io/Statement/v0.1"
STATEMENT_V1: Final = "https://in-toto.io/Statement/v1"
STATEMENT_TYPES: Final = frozenset({STATEMENT_V01, STATEMENT_V1})

ACCEPTED_DIGEST_ALGORITHMS: Final = ("sha256", "sha512")


@dataclass(frozen=True, slots=True)
class Subject:
    """One statement subject: a name (optional in v1) and a digest set."""

    name: str
    digest: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True, slots=True)
class Statement:
    """An in-toto statement. ``predicate`` is the raw JSON object, to be treated as read-only.

    ``raw`` is exactly the bytes :func:`parse_statement` read (an in-toto layer blob, a verified
    DSSE payload), so that the statement can be serialised and replayed byte for byte; ``None``
    for a statement built in memory (one synthesised around a raw SBOM document).
    """

    type: str
    predicate_type: str
    subjects: tuple[Subject, ...]
    predicate: Mapping[str, Any] = field(hash=False, repr=False)
    raw: bytes | None = field(default=None, hash=False, compare=False, repr=False)

    @property
    def version(self) -> str:
        """``v0.1`` or ``v1``."""
        return "v1" if self.type == STATEMENT_V1 else "v0.1"


def _subject(raw: object, index: int, statement_type: str) -> Subject:
    where = f"statement subject[{index}]"
    if not isinstance(raw, dict):
        raise StatementError(f"{where} is not an object")
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise StatementError(f"{where}: name must be a string")
    if statement_type == STATEMENT_V01 and not name:
        raise StatementError(f"{where}: Statement v0.1 requires a name")
    digest = raw.get("digest")
    if not isinstance(digest, dict) or not digest:
        raise StatementError(f"{where}: digest must be a non-empty object")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in digest.items()):
        raise StatementError(f"{where}: digest values must be strings")
    return Subject(name, MappingProxyType({k: v.lower() for k, v in digest.items()}))


def parse_statement(data: bytes) -> Statement:
    """Parse an in-toto Statement (v0.1 or v1) from verified bytes.

    Unknown fields are ignored. Raises :class:`StatementError` when the bytes are not a
    statement: not JSON, gzip, a DSSE envelope, an unknown ``_type``, or malformed subjects.
    """
    if data[:2] == b"\x1f\x8b":
        raise StatementError("statement is gzip-compressed, which in-toto layers must not be")
    doc = load_json_object(data, "statement", StatementError)
    if "payloadType" in doc and "_type" not in doc:
        raise StatementError("layer holds a DSSE envelope, not a statement")
    statement_type = doc.get("_type")
    if not isinstance(statement_type, str) or statement_type not in STATEMENT_TYPES:
        raise StatementError(f"unsupported statement _type {str(statement_type)[:100]!r}")
    predicate_type = doc.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise StatementError("statement has no predicateType")
    subjects = doc.get("subject", [])
    if not isinstance(subjects, list):
        raise StatementError("statement subject must be a list")
    predicate = doc.get("predicate", {})
    if predicate is None:
        predicate = {}
    if not isinstance(predicate, dict):
        raise StatementError("statement predicate must be an object")
    return Statement(
        type=statement_type,
        predicate_type=predicate_type,
        subjects=tuple(_subject(s, i, statement_type) for i, s in enumerate(subjects)),
        predicate=predicate,
        raw=bytes(data),
    )

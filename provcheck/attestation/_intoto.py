"""The only importer of ``in_toto_attestation`` and protobuf: building in-toto Statements v1.

The statement, its subjects and the VSA predicate are built with the binding's own types
(``Statement``, ``ResourceDescriptor``, the ``VerificationSummary`` proto) and validated by
them; the JSON written keeps the predicate as the plain dict it was built from, never a
round trip through protobuf ``Struct`` (which turns integers into floats).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from provcheck.errors import StatementBuildError


def build_statement_v1(
    subjects: Sequence[tuple[str, Mapping[str, str]]],
    predicate_type: str,
    predicate: Mapping[str, Any],
) -> dict[str, Any]:
    """An in-toto Statement v1 as a JSON-ready dict: ``subjects`` are (name, digest set).

    Built and validated with ``in_toto_attestation.v1``; raises :class:`StatementBuildError`
    when the binding refuses it.
    """
    from google.protobuf import json_format
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement

    descriptors = [ResourceDescriptor(name=name, digest=dict(digest)) for name, digest in subjects]
    try:
        for rd in descriptors:
            rd.validate()
        statement = Statement([rd.pb for rd in descriptors], predicate_type, dict(predicate))
        statement.validate()
        envelope = json_format.MessageToDict(statement.pb)
    except (ValueError, TypeError, json_format.Error) as exc:
        raise StatementBuildError(f"in-toto statement rejected by the binding: {exc}") from exc
    return {
        "_type": envelope["_type"],
        "subject": envelope["subject"],
        "predicateType": envelope["predicateType"],
        "predicate": dict(predicate),
    }


def check_vsa_v1(predicate: Mapping[str, Any]) -> None:
    """Parse ``predicate`` strictly into the binding's SLSA VSA v1 proto (every field known,
    every type right). Two fields are checked here instead: ``verifier.version`` (VSA v1.1) is
    newer than the proto, and the 0.9.3 proto declares ``verifiedLevels`` a single string where
    the SLSA spec (and every consumer) has an array of strings. Raises
    :class:`StatementBuildError`."""
    from google.protobuf import json_format
    from in_toto_attestation.predicates.vsa.v1 import vsa_pb2

    doc = dict(predicate)
    verifier = dict(doc.get("verifier") or {})
    version = verifier.pop("version", {})
    if not isinstance(version, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in version.items()
    ):
        raise StatementBuildError("VSA verifier.version must map names to version strings")
    doc["verifier"] = verifier
    levels = doc.pop("verifiedLevels", [])
    if not isinstance(levels, list) or not all(isinstance(x, str) for x in levels):
        raise StatementBuildError("VSA verifiedLevels must be an array of strings")
    try:
        json_format.ParseDict(doc, vsa_pb2.VerificationSummary())
    except json_format.ParseError as exc:
        raise StatementBuildError(f"not a SLSA VSA v1 predicate: {exc}") from exc

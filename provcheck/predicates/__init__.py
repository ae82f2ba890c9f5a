"""Predicate type URIs and their kinds; the typed SLSA and SBOM models live in submodules."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

SLSA_PROVENANCE_V02: Final = "https://slsa.dev/provenance/v0.2"
SLSA_PROVENANCE_V1: Final = "https://slsa.dev/provenance/v1"
SLSA_PROVENANCE_PREFIX: Final = "https://slsa.dev/provenance/"
SPDX_DOCUMENT: Final = "https://spdx.dev/Document"
CYCLONEDX_BOM: Final = "https://cyclonedx.org/bom"
SLSA_VSA_V1: Final = "https://slsa.dev/verification_summary/v1"
"""SLSA verification summary attestation v1 (provcheck writes v1.1's ``verifier.version``)."""

PROVENANCE_TYPES: Final = frozenset({SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1})


class PredicateKind(StrEnum):
    """What a predicate is about, which decides who needs to fetch it."""

    PROVENANCE = "provenance"
    SBOM = "sbom"
    OTHER = "other"


def predicate_kind(predicate_type: str) -> PredicateKind:
    """Classify a predicate type URI (SPDX and CycloneDX in all their spellings are SBOMs)."""
    if predicate_type in PROVENANCE_TYPES:
        return PredicateKind.PROVENANCE
    if predicate_type == SPDX_DOCUMENT or predicate_type.startswith(
        (SPDX_DOCUMENT + "/", CYCLONEDX_BOM)
    ):
        return PredicateKind.SBOM
    return PredicateKind.OTHER

"""The SLSA VSA v1 statement of one verification (``verify --format vsa``).

What each field says, and where it comes from:

* ``subject``: the digest the reference resolved to (the index of a multi-platform image), named
  by its repository. Platform manifests are not listed: the verdict is about the whole index, and
  a gate that resolves a tag gets the index digest.
* ``verifier``: :data:`VERIFIER_ID` and, as VSA v1.1 adds, ``version: {provcheck: __version__}``.
* ``timeVerified``: the instant the rules judged by (the evaluation's ``now``), in whole seconds.
* ``resourceUri``: ``<registry>/<repository>@<digest>``, the reference as verified, pinned.
* ``policy``: the policy file as given, and the sha256 of its exact bytes.
* ``inputAttestations``: every attestation read (each fetched in-toto layer or stored DSSE
  envelope, accepted or not), by the digest of the bytes read, sorted.
* ``verificationResult``: ``PASSED`` for a ``pass`` verdict; ``FAILED`` for ``fail`` and for
  ``error`` (a summary records the result, whatever it was).
* ``verifiedLevels``: conservative. ``[]`` when FAILED. When PASSED, ``SLSA_BUILD_LEVEL_1`` only
  if the policy's ``provenance`` rule passed for every platform (provenance exists, bound to the
  image: the Build L1 requirement), else ``SLSA_BUILD_LEVEL_0``. provcheck never claims Build L2
  or L3: it cannot establish that the builder is a hosted, hardened build platform.

The JSON is deterministic: sorted keys, no spaces, UTF-8.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from provcheck.attestation._intoto import build_statement_v1, check_vsa_v1
from provcheck.discovery.model import ImageAttestations
from provcheck.predicates import SLSA_VSA_V1
from provcheck.report.model import Report, Status, Verdict

VERIFIER_ID: Final = "urn:provcheck:verifier"
"""The stable ``verifier.id`` of every VSA provcheck writes."""
PASSED: Final = "PASSED"
FAILED: Final = "FAILED"
SLSA_VERSION: Final = "1.0"


@dataclass(frozen=True, slots=True)
class VerificationInputs:
    """What a summary is made of: the report, the attestations it was computed from, the
    policy file (as named, and its exact bytes) and the instant the rules judged by."""

    report: Report
    found: ImageAttestations
    policy_uri: str
    policy_bytes: bytes
    now: datetime


def time_text(moment: datetime) -> str:
    """RFC 3339 in UTC, whole seconds: ``2026-12-02T03:04:05Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _input_attestations(found: ImageAttestations) -> list[dict[str, Any]]:
    digests: set[str] = set()
    for image in found.images:
        for manifest in image.attestations:
            for layer in manifest.layers:
                if layer.fetched:
                    digests.add(layer.descriptor.digest.hex)
    for signed in found.signed:
        if signed.envelope is not None:
            digests.add(hashlib.sha256(signed.envelope).hexdigest())
    return [
        {"uri": f"{found.source}@sha256:{hex_}", "digest": {"sha256": hex_}}
        for hex_ in sorted(digests)
    ]


def _verified_levels(report: Report) -> list[str]:
    if report.verdict is not Verdict.PASS:
        return []
    provenance = [r for r in report.results if r.rule == "provenance" and r.platform is not None]
    if provenance and all(r.status is Status.PASS for r in provenance):
        return ["SLSA_BUILD_LEVEL_1"]
    return ["SLSA_BUILD_LEVEL_0"]


def vsa_statement(inputs: VerificationInputs, version: str) -> dict[str, Any]:
    """The in-toto Statement v1 (a JSON-ready dict) with the SLSA VSA predicate of ``inputs``;
    ``version`` is provcheck's. Raises :class:`StatementBuildError` if the in-toto binding
    refuses it (a bug)."""
    found = inputs.found
    digest = found.digest
    predicate: dict[str, Any] = {
        "verifier": {"id": VERIFIER_ID, "version": {"provcheck": version}},
        "timeVerified": time_text(inputs.now),
        "resourceUri": f"{found.source}@{digest}",
        "policy": {
            "uri": inputs.policy_uri,
            "digest": {"sha256": hashlib.sha256(inputs.policy_bytes).hexdigest()},
        },
        "inputAttestations": _input_attestations(found),
        "verificationResult": PASSED if inputs.report.verdict is Verdict.PASS else FAILED,
        "verifiedLevels": _verified_levels(inputs.report),
        "slsaVersion": SLSA_VERSION,
    }
    check_vsa_v1(predicate)
    return build_statement_v1(
        [(found.source, {digest.algorithm: digest.hex})], SLSA_VSA_V1, predicate
    )


def statement_bytes(statement: dict[str, Any]) -> bytes:
    """The deterministic JSON of ``statement`` (what a DSSE envelope signs)."""
    text = json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")

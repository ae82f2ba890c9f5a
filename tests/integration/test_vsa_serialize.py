"""``provcheck.attestations/v1`` keeps a signature store's envelopes: the ``vsa`` rule gives the
same verdict on reloaded attestations as on found ones, and a document cannot smuggle an envelope
beyond the cap."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from provcheck.api import inspect_image_async, verification_options
from provcheck.discovery import serialize
from provcheck.discovery.serialize import dump_attestations, load_attestations
from provcheck.errors import DocumentError
from provcheck.policy import evaluate
from provcheck.policy.loader import load_policy
from provcheck.report import Status
from tests.integration.test_vsa import (
    FULL_POLICY,
    make_vsa,
    push_image,
    vsa_policy,
    write_key,
    write_policy,
)
from tests.registry import RegistryServer


def test_a_vsa_verdict_survives_a_dump_and_load_and_an_oversized_envelope_is_refused(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = write_key(tmp_path / "keys", "ci", ec.generate_private_key(ec.SECP256R1()))
    pushed = push_image(registry_server, unique_repository)
    make_vsa(capsys, pushed.pinned, write_policy(tmp_path / "ci", FULL_POLICY), key.private)
    policy = load_policy(vsa_policy(tmp_path / "gate", key.public, max_age="1d"))
    found = asyncio.run(inspect_image_async(pushed.pinned, options=verification_options(policy)))
    assert any(s.envelope is not None for s in found.signed)
    text = dump_attestations(found)
    reloaded = load_attestations(text)
    assert [s.envelope for s in reloaded.signed] == [s.envelope for s in found.signed]
    original = evaluate(found, policy)
    again = evaluate(reloaded, policy)
    (vsa,) = [r for r in again.results if r.rule == "vsa"]
    assert vsa.status is Status.PASS, vsa.message
    assert (again.verdict, again.results) == (original.verdict, original.results)

    # a document written before envelopes were kept still loads; the rule finds nothing there
    doc = json.loads(text)
    for signed in doc["signed"]:
        del signed["envelope"]
    old = load_attestations(json.dumps(doc))
    (missing,) = [r for r in evaluate(old, policy).results if r.rule == "vsa"]
    assert missing.status is Status.FAIL

    largest = max(len(s.envelope or b"") for s in found.signed)
    monkeypatch.setattr(serialize, "ENVELOPE_MAX_BYTES", largest - 1)
    with pytest.raises(DocumentError, match="larger than"):
        load_attestations(text)

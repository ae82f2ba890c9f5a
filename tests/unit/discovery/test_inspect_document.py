"""The ``provcheck.inspect/v1`` view says what ``provcheck.attestations/v1`` says: for every
real image (and a signed one, trusted and not), each descriptor, problem, binding and signature
check of the inspect document is the attestations document's, picked and flattened."""

from __future__ import annotations

from typing import Any

import pytest

from provcheck.api import inspect_image
from provcheck.attestation.keys import load_public_key
from provcheck.attestation.signatures import TrustConfig
from provcheck.discovery.options import DiscoveryOptions
from provcheck.discovery.serialize import attestations_to_dict
from provcheck.views.document import inspect_document
from tests.paths import FIXTURES_DIR, REAL_DIR

CASES = sorted(p.name for p in REAL_DIR.iterdir() if (p / "oci-layout").is_dir())


def _descriptor(full: dict[str, Any]) -> dict[str, Any]:
    return {k: full[k] for k in ("digest", "mediaType", "size")}


def _agree(view: dict[str, Any], wire: dict[str, Any]) -> None:
    assert {k: view[k] for k in ("digest", "mediaType", "size")} == _descriptor(wire["descriptor"])
    assert view["problems"] == wire["problems"]
    assert len(view["images"]) == len(wire["images"])
    for image, wimage in zip(view["images"], wire["images"], strict=True):
        assert _descriptor(image) == _descriptor(wimage["descriptor"])
        assert image["problems"] == wimage["problems"]
        for m, wm in zip(image["attestationManifests"], wimage["attestations"], strict=True):
            assert _descriptor(m) == _descriptor(wm["descriptor"])
            assert (m["form"], m["origin"], m["problems"]) == (
                wm["form"],
                wm["origin"],
                wm["problems"],
            )
            for s, ws in zip(m["statements"], wm["layers"], strict=True):
                assert s["layer"] == {**_descriptor(ws["descriptor"]), "index": ws["index"]}
                assert s["predicateTypeAnnotation"] == ws["predicateTypeHint"]
                assert (s["trust"], s["problems"]) == (ws["trust"], ws["problems"])
                wb = ws["binding"]
                expected = wb and {
                    "status": wb["status"],
                    "reasons": [f["message"] for f in wb["failures"]],
                }
                assert s["binding"] == expected
    for sig, wsig in zip(view["signatures"], wire["signed"], strict=True):
        check = wsig["check"]
        keys = ("kind", "origin", "location", "target", "predicateType", "indexScoped", "platforms")
        assert {k: sig[k] for k in keys} == {k: wsig[k] for k in keys}
        assert sig["signers"] == check["signers"]
        assert sig["rejections"] == [r["message"] for r in check["rejections"]]
        assert sig["tlog"] == check["tlog"]
        assert sig["accepted"] == (bool(check["signers"]) and not check["rejections"])
    assert len(view["signatures"]) == len(wire["signed"])


@pytest.mark.parametrize("case", CASES)
def test_every_real_image(case: str) -> None:
    ref = f"oci-layout://{REAL_DIR / case / 'oci-layout'}:1"
    found = inspect_image(ref, options=DiscoveryOptions(signature_stores=True))
    _agree(inspect_document(found), attestations_to_dict(found))


@pytest.mark.parametrize("trusted", [True, False])
def test_signatures_trusted_or_not(trusted: bool) -> None:
    keys = (load_public_key(REAL_DIR / "i-cosign" / "cosign.pub"),) if trusted else ()
    options = DiscoveryOptions(
        signature_stores=True, trust=TrustConfig(keys=keys) if keys else None
    )
    found = inspect_image(f"oci-layout://{REAL_DIR / 'i-cosign' / 'oci-layout'}:1", options=options)
    view = inspect_document(found)
    assert {s["accepted"] for s in view["signatures"]} == {trusted}
    _agree(view, attestations_to_dict(found))


def test_a_signed_attestation_manifest_rejected_by_another_key() -> None:
    layout = FIXTURES_DIR / "signed" / "attestation-manifest-signed"
    keys = (load_public_key(FIXTURES_DIR / "signed" / "keys" / "other-p256.pub"),)
    found = inspect_image(
        f"oci-layout://{layout}:1",
        options=DiscoveryOptions(signature_stores=True, trust=TrustConfig(keys=keys)),
    )
    view = inspect_document(found)
    assert view["signatures"] and all(s["rejections"] for s in view["signatures"])
    _agree(view, attestations_to_dict(found))

"""Freshness of every fixture generator under fixtures/ (fixtures/real is BuildKit's own output).

What a generator makes deterministically is rebuilt here and compared byte for byte; what it
signs with keys it throws away (ECDSA/RSA-PSS signatures are random) cannot be rebuilt, so it is
verified instead, by the tests named below.

* fixtures/statements/generate.py: tests/unit/attestation/test_statement_negative.py;
* fixtures/sbom-stores/generate.py: the SBOM documents and each case's image (index,
  manifests, configs, layers, provenance) here; the cosign/oras SBOM stores are verified by
  tests/integration/test_sbom_stores.py;
* fixtures/signed/generate.py: each case's image here; the signatures by
  tests/integration/test_signed_stores.py;
* fixtures/signed/keyless/generate.py: new keys every run; tests/integration/test_signed_keyless.py
  verifies the committed fixture and a freshly generated case (``build_case``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.paths import FIXTURES_DIR, load_script

SBOM_STORES = FIXTURES_DIR / "sbom-stores"
SIGNED = FIXTURES_DIR / "signed"
sbom_gen = load_script(SBOM_STORES / "generate.py", "sbom_stores_generate")
signed_gen = load_script(SIGNED / "generate.py", "signed_generate")

SBOM_CASES: dict[str, Any] = json.loads((SBOM_STORES / "cases.json").read_text())
SIGNED_CASES: dict[str, Any] = json.loads((SIGNED / "cases.json").read_text())
REGISTRY = "127.0.0.1:5000"


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def _assert_built_image_is_committed(built: Any, layout: Path) -> None:
    """Every blob the generator's builder makes is in the committed layout, byte for byte."""
    for digest, data in built.blobs.items():
        assert _blob(layout, digest) == data, digest


def test_sbom_documents_regenerate_byte_for_byte() -> None:
    committed = {p.name for p in (SBOM_STORES / "documents").iterdir()}
    assert committed == set(sbom_gen.DOCUMENTS)
    for name, document in sbom_gen.DOCUMENTS.items():
        expected = (json.dumps(document, indent=2) + "\n").encode()
        assert (SBOM_STORES / "documents" / name).read_bytes() == expected, name


@pytest.mark.parametrize("case", sorted(c for c in SBOM_CASES if "repo" in SBOM_CASES[c]))
def test_sbom_store_images_regenerate_byte_for_byte(case: str) -> None:
    meta = SBOM_CASES[case]
    built, digests = sbom_gen.build_base(case, f"{REGISTRY}/{meta['repo']}")
    assert digests == {k: meta[k] for k in ("index", "amd64", "arm64")}
    _assert_built_image_is_committed(built, SBOM_STORES / case)


def _image_name(layout: Path, attestation_manifest: str) -> str:
    """The image name the generator gave the builder, read back from the committed provenance
    subject (``pkg:docker/<quoted name>@latest?platform=...``)."""
    manifest = json.loads(_blob(layout, attestation_manifest))
    statement = json.loads(_blob(layout, manifest["layers"][0]["digest"]))
    purl: str = statement["subject"][0]["name"]
    name = purl.removeprefix("pkg:docker/").partition("@")[0]
    return unquote(name)


@pytest.mark.parametrize("case", sorted(SIGNED_CASES))
def test_signed_images_regenerate_byte_for_byte(case: str) -> None:
    meta = SIGNED_CASES[case]
    layout = SIGNED / case
    name = _image_name(layout, meta["amd64_attestation"])
    assert name.startswith(f"{REGISTRY}/provcheck-signed-") and name.endswith(f"/{case}")
    built, info = signed_gen.build_base(case, name)
    assert built.root_digest == meta["index"]
    assert info == {k: meta[k] for k in ("amd64", "arm64", "amd64_attestation")}
    _assert_built_image_is_committed(built, layout)


@pytest.mark.parametrize(
    "layout",
    sorted(
        {p.parent for p in FIXTURES_DIR.glob("*/**/oci-layout") if "real" not in p.parts},
    ),
    ids=lambda p: str(p.relative_to(FIXTURES_DIR)),
)
def test_every_generated_blob_has_the_digest_of_its_name(layout: Path) -> None:
    blobs = sorted((layout / "blobs" / "sha256").iterdir())
    assert blobs
    for blob in blobs:
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, blob

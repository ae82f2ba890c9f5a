"""Found attestations as data both ways (``provcheck.attestations/v1``): every real case and
builder-made variants with problems read back to an equal :class:`ImageAttestations` whose
statements hold the same bytes, which the policy engine cannot tell from the original; documents
of another version, off the schema, or whose statement bytes no longer match their digest are
refused with a typed error."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from provcheck.api import inspect_image
from provcheck.attestation.binding import BindingReason, BindingStatus
from provcheck.attestation.signatures import RejectionReason, SignedKind, TlogStatus
from provcheck.attestation.statement import Statement
from provcheck.discovery.model import (
    AttestationForm,
    AttestationLayer,
    AttestationOrigin,
    ImageAttestations,
    Problem,
    ProblemKind,
    TrustLevel,
)
from provcheck.discovery.options import DiscoveryOptions
from provcheck.discovery.serialize import (
    SCHEMA_VERSION,
    attestations_from_dict,
    attestations_to_dict,
    dump_attestations,
    load_attestations,
)
from provcheck.errors import DocumentError, SchemaVersionError
from provcheck.oci import mediatypes as mt
from provcheck.policy import evaluate, load_policy
from provcheck.predicates import PredicateKind
from tests.integration.test_in_index_dsse import SIGNER, STRANGER, build, trusted
from tests.oci_builder import ImageBuilder, compact_bytes, provenance_statement
from tests.paths import FIXTURES_DIR, REAL_CASES, REPO_ROOT, real_case
from tests.unit.policy.realdata import load_case_with_stores
from tests.unit.report.test_json_roundtrip import json_text

NOW: Final = datetime(2026, 12, 1, tzinfo=UTC)
POLICIES: Final = tuple(
    load_policy(REPO_ROOT / "policies" / f"{name}.yaml") for name in ("baseline", "strict")
)
SCHEMA: Final = json.loads(
    resources.files("provcheck.discovery").joinpath("attestations.schema.json").read_text()
)
ALL: Final = DiscoveryOptions(image_configs=True, signature_stores=True)


def _layers(found: ImageAttestations) -> Iterator[AttestationLayer]:
    for image in found.images:
        for manifest in image.attestations:
            yield from manifest.layers


def _statements(found: ImageAttestations) -> list[Statement]:
    return [layer.statement for layer in _layers(found) if layer.statement is not None]


def _assert_replays(found: ImageAttestations) -> ImageAttestations:
    """Equal object, same bytes in every statement, same reports, byte-identical document."""
    text = dump_attestations(found)
    Draft202012Validator(SCHEMA).validate(json.loads(text))
    again = load_attestations(text)
    assert again == found
    assert [(s.raw, dict(s.predicate)) for s in _statements(again)] == [
        (s.raw, dict(s.predicate)) for s in _statements(found)
    ]
    assert [i.config for i in again.images] == [i.config for i in found.images]
    for policy in POLICIES:
        assert evaluate(again, policy, now=NOW) == evaluate(found, policy, now=NOW)
    assert dump_attestations(again) == text
    assert attestations_from_dict(attestations_to_dict(found)) == found
    return again


@pytest.mark.parametrize("case", REAL_CASES)
def test_every_real_case_replays(case: str) -> None:
    found = load_case_with_stores(case)
    _assert_replays(found)
    if case != "h-no-attest":
        assert _statements(found) and all(s.raw is not None for s in _statements(found))
    assert all(image.config is not None for image in found.images)


def test_i_cosign_replays_its_signed_statements_and_signatures() -> None:
    found = load_case_with_stores("i-cosign")
    signed = [layer for layer in _layers(found) if layer.trust is TrustLevel.SIGNED]
    assert len(signed) == 2 and len(found.signed) >= 2
    again = _assert_replays(found)
    assert again.signed == found.signed
    assert {type(s.check.tlog) for s in again.signed} == {TlogStatus}  # typed, not a bare str
    assert [layer.signature for layer in _layers(again) if layer.trust is TrustLevel.SIGNED] == [
        layer.signature for layer in signed
    ]


def test_i_cosign_without_its_key_replays_the_rejections() -> None:
    found = inspect_image(f"oci-layout://{real_case('i-cosign') / 'oci-layout'}:1", options=ALL)
    assert any(s.check.rejected_for(RejectionReason.NOT_VERIFIED) for s in found.signed)
    _assert_replays(found)


@pytest.mark.parametrize("case", ["oras-referrers", "cosign-att", "replayed"])
def test_sbom_store_cases_replay(case: str) -> None:
    """Raw SBOM referrers give statements synthesised in memory: stored as their fields."""
    found = inspect_image(f"oci-layout://{FIXTURES_DIR / 'sbom-stores' / case}:1", options=ALL)
    _assert_replays(found)
    if case == "oras-referrers":
        forms = {m.form for i in found.images for m in i.attestations}
        assert AttestationForm.OCI_ARTIFACT_SBOM in forms
        assert any(s.raw is None for s in _statements(found))
        doc = attestations_to_dict(found)
        kept = [
            layer["statement"]
            for image in doc["images"]
            for m in image["attestations"]
            for layer in m["layers"]
            if m["form"] == "oci-artifact-sbom" and layer["statement"] is not None
        ]
        assert kept and all("predicate" in s and "payload" not in s for s in kept)


def test_tampered_missing_and_misbound_variants_replay(tmp_path: Path) -> None:
    builder = ImageBuilder("variants")
    amd64, arm64 = (builder.add_platform(p) for p in ("linux/amd64", "linux/arm64"))
    good = builder.attest(amd64, [provenance_statement(amd64.digest)])
    # arm64's statement names the amd64 manifest (mis-bound), and claims another predicate type
    # in the layer annotation than it has
    misbound = provenance_statement(amd64.digest, platform="linux/arm64")
    builder.attest(arm64, [misbound], predicate_type_annotations=["https://example.com/other"])
    image = builder.build()
    layer_digest = next(d for d, b in good.blobs.items() if b == compact_bytes(good.statements[0]))
    variants = {
        "misbound": image,
        "tampered": image.tampered(layer_digest, b'{"_type": "evil"}'),
        "missing": image.without_blob(layer_digest),
    }
    kinds: dict[str, set[ProblemKind]] = {}
    for name, variant in variants.items():
        layout = variant.write_layout(tmp_path / name)
        found = inspect_image(f"oci-layout://{layout}:1", options=ALL)
        kinds[name] = {p.kind for p in found.all_problems()}
        again = _assert_replays(found)
        assert list(again.all_problems()) == list(found.all_problems())
    assert ProblemKind.BINDING in kinds["misbound"]
    assert ProblemKind.INTEGRITY in kinds["tampered"]
    assert ProblemKind.MISSING in kinds["missing"] or ProblemKind.FETCH in kinds["missing"]
    (failed,) = (
        layer
        for layer in _layers(inspect_image(f"oci-layout://{tmp_path / 'misbound'}:1"))
        if layer.binding is not None and not layer.binding.usable
    )
    assert failed.binding is not None and failed.binding.status is BindingStatus.MISMATCH
    assert failed.binding.failed_for(BindingReason.PREDICATE_TYPE_HINT)


@pytest.mark.parametrize(
    ("signer", "tamper", "trust"),
    [(SIGNER, False, True), (SIGNER, True, True), (STRANGER, False, True), (SIGNER, False, False)],
    ids=["signed", "tampered-payload", "stranger", "unverified"],
)
def test_in_index_envelopes_replay(tmp_path: Path, signer: Any, tamper: bool, trust: bool) -> None:
    layout = build(tmp_path, signer, tamper=tamper)
    options = DiscoveryOptions(image_configs=True, trust=trusted(SIGNER) if trust else None)
    for reference in (layout.tagged, layout.pinned):
        _assert_replays(inspect_image(reference, options=options))


def test_statement_bytes_in_any_json_encoding_replay_exactly(tmp_path: Path) -> None:
    """Why the bytes and not their JSON value: a statement in UTF-16 with a BOM, indented, is
    a valid layer (JSON readers accept it) whose digest no re-serialisation reproduces."""
    builder = ImageBuilder("utf16")
    entry = builder.add_platform("linux/amd64")
    statement = provenance_statement(entry.digest)
    data = json.dumps(statement, indent=3, ensure_ascii=False).encode("utf-16")
    layer_data = [(data, mt.IN_TOTO, statement["predicateType"])]
    builder._attestation(entry, layer_data, [statement], form="legacy")  # raw bytes: no public way
    layout = builder.build().write_layout(tmp_path / "layout")
    found = inspect_image(f"oci-layout://{layout}:1", options=ALL)
    (layer,) = _layers(found)
    assert layer.usable and layer.statement is not None and layer.statement.raw == data
    _assert_replays(found)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    reference=json_text,
    annotations=st.dictionaries(json_text, json_text, max_size=3),
    messages=st.lists(json_text, max_size=3),
    env=st.lists(json_text, max_size=3),
)
def test_generated_text_everywhere_replays(
    reference: str, annotations: dict[str, str], messages: list[str], env: list[str]
) -> None:
    found = load_case_with_stores("c-secrets-max")
    images = tuple(
        dataclasses.replace(
            image,
            config={**(image.config or {}), "config": {"Env": env}},
            problems=tuple(
                Problem(ProblemKind.MALFORMED, m, image.descriptor.digest) for m in messages
            ),
        )
        for image in found.images
    )
    found = dataclasses.replace(
        found,
        reference=reference,
        annotations=annotations,
        images=images,
        problems=tuple(Problem(ProblemKind.SUSPICIOUS, m) for m in messages),
    )
    again = load_attestations(dump_attestations(found))
    assert again == found
    assert dump_attestations(again) == dump_attestations(found)
    for policy in POLICIES:
        assert evaluate(again, policy, now=NOW) == evaluate(found, policy, now=NOW)


# -- equality means what the engine sees ------------------------------------------------------


def test_equality_sees_the_config_and_the_predicate() -> None:
    """Both were left out of ``==``: a replayed object with another config or predicate (what
    the build-args and provenance rules read) compared equal to the original."""
    found = load_case_with_stores("c-secrets-max")
    image = found.images[0]
    assert image.config is not None
    other_config = dataclasses.replace(image, config={**image.config, "architecture": "evil"})
    assert other_config != image
    (usable, *_) = image.statements(PredicateKind.PROVENANCE)
    statement = usable.statement
    other = dataclasses.replace(statement, predicate={**statement.predicate, "x": 1})
    assert other != statement


# -- refusals --------------------------------------------------------------------------------


def _doc() -> dict[str, Any]:
    return attestations_to_dict(load_case_with_stores("i-cosign"))


def _layer_docs(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for image in doc["images"]:
        for manifest in image["attestations"]:
            yield from manifest["layers"]


def _with_payload(doc: dict[str, Any], media_type: str, change: bytes) -> dict[str, Any]:
    changed = copy.deepcopy(doc)
    layer = next(
        x
        for x in _layer_docs(changed)
        if x["descriptor"]["mediaType"] == media_type and x["statement"] is not None
    )
    raw = base64.b64decode(layer["statement"]["payload"])
    layer["statement"]["payload"] = base64.b64encode(raw.replace(b"{", change, 1)).decode()
    return changed


@pytest.mark.parametrize("media_type", [mt.IN_TOTO, mt.DSSE_ENVELOPE])
def test_statement_bytes_that_no_longer_match_are_refused(media_type: str) -> None:
    """A plain layer's bytes are checked against the layer digest, an envelope's payload against
    what its signature covers: a corrupted cache entry is refused, never replayed."""
    doc = _doc()
    attestations_from_dict(doc)
    with pytest.raises(DocumentError, match="does not hash to sha256:"):
        attestations_from_dict(_with_payload(doc, media_type, b"{ "))  # still a statement


@pytest.mark.parametrize("version", ["provcheck.attestations/v2", "provcheck.report/v1", None])
def test_another_schema_version_is_a_typed_error(version: str | None) -> None:
    with pytest.raises(SchemaVersionError) as caught:
        attestations_from_dict({**_doc(), "schemaVersion": version})
    assert (caught.value.found, caught.value.expected) == (version, SCHEMA_VERSION)


def test_malformed_documents_are_document_errors() -> None:
    doc = _doc()
    with pytest.raises(DocumentError, match="at / "):
        attestations_from_dict({**doc, "extra": 1})
    bad_digest = copy.deepcopy(doc)
    bad_digest["descriptor"]["digest"] = "sha256:" + "0" * 63
    with pytest.raises(DocumentError, match="malformed sha256 digest"):
        attestations_from_dict(bad_digest)
    bad_base64 = copy.deepcopy(doc)
    next(x for x in _layer_docs(bad_base64) if x["statement"])["statement"]["payload"] = "AAA"
    with pytest.raises(DocumentError, match="not valid base64"):
        attestations_from_dict(bad_base64)
    with pytest.raises(DocumentError):
        load_attestations(b"\xff")
    before = copy.deepcopy(doc)
    attestations_from_dict(doc)
    assert doc == before


@pytest.mark.parametrize(
    ("pointer", "enum"),
    [
        (("problem", "kind"), ProblemKind),
        (("manifest", "form"), AttestationForm),
        (("manifest", "origin"), AttestationOrigin),
        (("layer", "trust"), TrustLevel),
        (("binding", "status"), BindingStatus),
        (("signed", "kind"), SignedKind),
        (("check", "tlog"), TlogStatus),
    ],
)
def test_the_schema_names_every_member_of_each_vocabulary(
    pointer: tuple[str, str], enum: type[StrEnum]
) -> None:
    definition, field = pointer
    assert SCHEMA["$defs"][definition]["properties"][field]["enum"] == [m.value for m in enum]


def test_the_schema_names_every_reason() -> None:
    defs = SCHEMA["$defs"]
    failure = defs["binding"]["properties"]["failures"]["items"]["properties"]["reason"]
    assert failure["enum"] == [m.value for m in BindingReason]
    rejection = defs["check"]["properties"]["rejections"]["items"]["properties"]["reason"]
    assert rejection["enum"] == [m.value for m in RejectionReason]

"""The hostile JSON of issue 14.6, one case at a time: each is a typed error for that one piece
of evidence, never a traceback. (The mutation fuzzer in test_fuzz_parsers.py looks for more.)"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from provcheck._internal.jsonload import MAX_JSON_DEPTH, load_json
from provcheck.attestation.bundle import parse_bundle
from provcheck.attestation.cosign import BUNDLE_ANNOTATION, has_tlog_bundle
from provcheck.attestation.dsse import parse_envelope
from provcheck.attestation.keys import parse_public_key
from provcheck.attestation.statement import parse_statement
from provcheck.attestation.tlog import (
    DsseMaterial,
    TlogEntry,
    check_tlog,
    evidence_from_annotations,
    evidence_from_bundle,
    parse_trusted_root,
    verify_entry,
)
from provcheck.errors import (
    AttestationError,
    ManifestError,
    RegistryError,
    SbomError,
    StatementError,
    TlogError,
    UsageError,
)
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.oci.reference import ImageReference
from provcheck.sbom import parse_sbom
from provcheck.source.registry import RegistryClient, RegistryOptions
from provcheck.source.registry.credentials import DockerCredentials
from tests.oci_builder import provenance_statement, spdx_statement
from tests.paths import FIXTURES_DIR, load_script

sim = load_script(FIXTURES_DIR / "signed" / "tlog" / "rekor_sim.py", "rekor_sim")
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, None),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nests deeper than 200"),
        (DEEP, "nests deeper than 200"),
        (b'{"a": NaN}', "NaN is not JSON"),
        (b'{"a": -Infinity}', "-Infinity is not JSON"),
        (b'{"a": 1e999}', "out of range"),
        (b'{"a": ' + b"9" * 5000 + b"}", "4300 digits"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'{"a": ', "not valid JSON"),
    ],
)
def test_the_loader_accepts_strict_json_only(text: bytes, message: str | None) -> None:
    if message is None:
        assert load_json(text, "doc", ManifestError) is not None
        return
    with pytest.raises(ManifestError, match=message):
        load_json(text, "doc", ManifestError)


def test_the_loader_never_quotes_the_document() -> None:
    with pytest.raises(UsageError) as info:
        load_json(b'{"auth": "s3cr3t" x}', "config.json", UsageError)
    assert "s3cr3t" not in info.value.diagnostics()


@pytest.mark.parametrize("hostile", [["https://in-toto.io/Statement/v1"], {"v": 1}, 1, None])
def test_a_statement_type_of_another_json_type_is_a_statement_error(hostile: object) -> None:
    statement = provenance_statement("sha256:" + "a" * 64)
    with pytest.raises(StatementError, match="unsupported statement _type"):
        parse_statement(json.dumps({**statement, "_type": hostile}).encode())


def _spdx_with(ref: dict[str, Any]) -> bytes:
    statement = spdx_statement("sha256:" + "a" * 64, [{"name": "pkg"}])
    statement["predicate"]["packages"][0]["externalRefs"] = [ref]
    return json.dumps(statement).encode()


@pytest.mark.parametrize("field", ["referenceCategory", "referenceType"])
def test_an_spdx_reference_category_object_is_an_sbom_error(field: str) -> None:
    ref = {
        "referenceCategory": "PACKAGE-MANAGER",
        "referenceType": "purl",
        "referenceLocator": "pkg:npm/x@1",
        field: {"PACKAGE-MANAGER": True},
    }
    with pytest.raises(SbomError, match=f"externalRefs/0/{field} must be a string, not dict"):
        parse_sbom(parse_statement(_spdx_with(ref)))
    ref[field] = ["PACKAGE-MANAGER"]
    with pytest.raises(SbomError, match="must be a string, not list"):
        parse_sbom(parse_statement(_spdx_with(ref)))


def _key_bundle(material: object) -> bytes:
    envelope: dict[str, Any] = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": "e30=",
        "signatures": [],
    }
    envelope["signatures"] = [{"keyid": "", "sig": "AAAA"}]
    return json.dumps(
        {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": material,
            "dsseEnvelope": envelope,
        }
    ).encode()


@pytest.mark.parametrize(
    ("material", "message"),
    [
        ({"publicKey": "hint"}, "publicKey is not an object"),
        ({"publicKey": ["hint"]}, "publicKey is not an object"),
        ({"certificate": "MIIB"}, "certificate is not an object"),
        ({"certificate": {"rawBytes": 5}}, "rawBytes is not base64 text"),
        ({"x509CertificateChain": ["MIIB"]}, "x509CertificateChain is not an object"),
        ({"x509CertificateChain": {"certificates": "MIIB"}}, "certificates is not a list"),
        ({"x509CertificateChain": {"certificates": ["MIIB"]}}, "certificates is not a list"),
        ({"x509CertificateChain": {"certificates": [{"rawBytes": {}}]}}, "not base64 text"),
        ({"x509CertificateChain": {"certificates": [{"rawBytes": "%%"}]}}, "not valid base64"),
    ],
)
def test_bundle_verification_material_of_the_wrong_types(material: object, message: str) -> None:
    with pytest.raises(AttestationError, match=message):
        parse_bundle(_key_bundle(material))


def test_a_bundle_whose_media_type_is_a_list_is_an_attestation_error() -> None:
    doc = json.loads(_key_bundle({"publicKey": {"hint": "h"}}))
    doc["mediaType"] = [doc["mediaType"]]
    with pytest.raises(AttestationError, match="unsupported sigstore bundle mediaType"):
        parse_bundle(json.dumps(doc).encode())
    assert parse_bundle(_key_bundle({"publicKey": {"hint": "h"}})).key_hint == "h"


def _world() -> tuple[Any, DsseMaterial, Any]:
    rekor = sim.FakeRekor()
    signer = ec.derive_private_key(4242, ec.SECP256R1())
    envelope = sim.sign_envelope(signer, {"_type": "https://in-toto.io/Statement/v1", "n": 1})
    key = parse_public_key(sim.public_pem(signer))
    material = DsseMaterial(parse_envelope(envelope), (key,), envelope)
    logs = parse_trusted_root(json.dumps(rekor.trusted_root()).encode())
    annotation = rekor.cosign_annotation(sim.intoto_v002_body(envelope, sim.public_pem(signer)))
    return logs, material, json.loads(annotation)


@pytest.mark.parametrize("when", [10**20, 2**63, -1, "99999999999999999999", "\u0661"])
def test_an_out_of_range_integrated_time_beside_a_valid_signature(when: object) -> None:
    """The envelope is validly signed by a trusted key; only the entry's time is hostile."""
    logs, material, annotation = _world()
    annotation["Payload"]["integratedTime"] = when
    evidence = evidence_from_annotations({BUNDLE_ANNOTATION: json.dumps(annotation)})
    outcome = check_tlog(evidence, logs, material)
    assert outcome.status == "unverified"
    assert outcome.rejection is not None and "integratedTime" in outcome.rejection
    entry = {"canonicalizedBody": "e30=", "logId": {"keyId": "AAAA"}, "integratedTime": when}
    assert evidence_from_bundle([{**entry, "logIndex": 1}]).malformed is not None


def test_an_out_of_range_time_in_a_constructed_entry_is_a_tlog_error() -> None:
    logs, material, _ = _world()
    entry = TlogEntry("e30=", b"{}", 10**20, 1, logs[0].log_id, b"x")
    with pytest.raises(TlogError, match="out of range"):
        verify_entry(entry, logs, material)


def test_a_deeply_nested_cosign_bundle_annotation() -> None:
    text = DEEP.decode()
    assert has_tlog_bundle({BUNDLE_ANNOTATION: text}) is False
    evidence = evidence_from_annotations({BUNDLE_ANNOTATION: text})
    assert evidence.present and "nests deeper than 200" in (evidence.malformed or "")


def _fetch_with_token_answer(tmp_path: Path, answer: bytes) -> None:
    blob = b"blob"
    descriptor = Descriptor(mt.IN_TOTO, Digest.of(blob), len(blob))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, content=answer)
        if request.headers.get("Authorization") == "Bearer T0KEN":
            return httpx.Response(200, content=blob)
        challenge = 'Bearer realm="https://registry.example.com/token",service="r"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    async def fetch() -> None:
        options = RegistryOptions(docker_config_dir=tmp_path, backoff_base=0.0)
        async with RegistryClient(options, transport=httpx.MockTransport(handler)) as client:
            source = client.source(ImageReference.parse("registry.example.com/lab/x:1"))
            assert await source.fetch_blob(descriptor, 1024) == blob

    asyncio.run(fetch())


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (DEEP, "nests deeper than 200"),
        (b'{"token": "T0KEN", "expires_in": ' + b"9" * 5000 + b"}", "4300 digits"),
        # found by the fuzzer: httpx raised UnicodeEncodeError building the Authorization header
        (json.dumps({"token": "\u202e\x00\x1b[2J\ud7ff\n"}).encode(), "answered without a token"),
    ],
)
def test_hostile_token_server_answers_are_registry_errors(
    tmp_path: Path, answer: bytes, message: str
) -> None:
    with pytest.raises(RegistryError, match=message):
        _fetch_with_token_answer(tmp_path, answer)
    _fetch_with_token_answer(tmp_path, b'{"token": "T0KEN", "expires_in": 300}')


def test_a_deeply_nested_docker_config_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_bytes(DEEP)
    with pytest.raises(UsageError, match="nests deeper than 200"):
        asyncio.run(DockerCredentials(tmp_path).credentials("registry.example.com"))
    auth = base64.b64encode(b"u:p").decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"r.io": {"auth": "\u00e9" + auth}}})
    )
    with pytest.raises(UsageError, match="auth is not base64"):
        asyncio.run(DockerCredentials(tmp_path).credentials("r.io"))

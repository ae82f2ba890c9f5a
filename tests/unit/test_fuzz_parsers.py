"""A seeded mutation fuzzer over every parser of data that provcheck did not write.

Seeds are the real fixtures (every JSON blob of every committed OCI layout, the SBOM documents,
the policies) and the stand-in Rekor's entries. Each case applies one to three mutations: a
value swapped for another JSON type (list, object, string, integer, null, boolean, a huge
integer, a float), a key deleted, a node replaced by another node of the document, deep
nesting, unicode and control characters; or, at the byte level, ``NaN``, a 5,000-digit
integer, nesting 5,000 levels deep, truncation, invalid UTF-8. Whatever the parser is given, the
only exceptions allowed out are :class:`ProvcheckError` subclasses (a crash is a traceback and
exit 1, where a hostile attestation must be a reported problem).

The seed is fixed and each target has a time budget (``PROVCHECK_FUZZ_SECONDS``, default 1.2 s),
so a run is reproducible on one machine and bounded everywhere: a failure prints the target, the
case number and the mutations, and ``PROVCHECK_FUZZ_SECONDS=10`` digs deeper.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import io
import json
import os
import random
import stat
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from provcheck._internal.gojson import go_json_indent
from provcheck.api import inspect_image, verify_image
from provcheck.attestation import bundle as sb
from provcheck.attestation._sigstore import _tlog_entries
from provcheck.attestation.binding import bind_statement
from provcheck.attestation.cosign import BUNDLE_ANNOTATION, has_tlog_bundle, parse_simple_signing
from provcheck.attestation.dsse import parse_envelope
from provcheck.attestation.keys import parse_public_key
from provcheck.attestation.signatures import TlogStatus
from provcheck.attestation.statement import parse_statement
from provcheck.attestation.tlog import (
    DsseMaterial,
    check_tlog,
    evidence_from_annotations,
    evidence_from_bundle,
    parse_trusted_root,
)
from provcheck.attestation.verify import verify_statement_envelope
from provcheck.cli import main
from provcheck.discovery.options import DiscoveryOptions
from provcheck.errors import ProvcheckError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor, load_manifest_json, parse_manifest
from provcheck.oci.platform import Platform
from provcheck.oci.reference import ImageReference
from provcheck.policy import Policy, load_policy
from provcheck.predicates import PredicateKind, predicate_kind
from provcheck.predicates.slsa import parse_provenance
from provcheck.report import ReportFormat, render
from provcheck.sbom import parse_sbom
from provcheck.sbom.export import ExportFormat, SbomEntry, export_sboms
from provcheck.source.registry import RegistryClient, RegistryOptions
from provcheck.source.registry.credentials import (
    DockerCredentials,
    HelperCall,
    run_credential_helper_async,
)
from provcheck.source.registry.transport import registry_error_detail
from provcheck.views.buildx import provenance_document, sbom_document
from provcheck.views.document import inspect_document
from provcheck.views.text import render_inspect_text
from tests.hashseed import run_under_seeds
from tests.oci_builder import ImageBuilder, provenance_statement
from tests.paths import FIXTURES_DIR, REPO_ROOT, load_script

SEED: Final = 20261202
BUDGET: Final = float(os.environ.get("PROVCHECK_FUZZ_SECONDS", "1.2"))
MAX_CASES: Final = 2000
sim = load_script(FIXTURES_DIR / "signed" / "tlog" / "rekor_sim.py", "rekor_sim")


# -- the mutator --------------------------------------------------------------------------------


def _nest(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


_HOSTILE: Final[tuple[Callable[[random.Random], Any], ...]] = (
    lambda r: None,
    lambda r: True,
    lambda r: False,
    lambda r: 0,
    lambda r: -1,
    lambda r: 2**64 + 1,
    lambda r: -(10**30),
    lambda r: 1.5,
    lambda r: -1e308,
    lambda r: "",
    lambda r: "x",
    lambda r: "\u202e\x00\x1b[2J\ud7ff\U0001f4a5\n\r\t",
    lambda r: "A" * r.choice((300, 5000)),
    lambda r: "sha256:" + "0" * 64,
    lambda r: "pkg:docker/x@1?platform=linux%2Famd64",
    lambda r: [],
    lambda r: {},
    lambda r: [None],
    lambda r: {"": None},
    lambda r: _nest(r.randint(10, 190)),
)


def _paths(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) of ``doc``, iteratively."""
    out: list[tuple[Any, Any]] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            out.append((node, key))
            if isinstance(child, dict | list) and len(out) < 20000:
                stack.append(child)
    return out


def _swap(value: Any) -> Any:
    """The same content in another JSON type."""
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return {}


def mutate_tree(doc: Any, r: random.Random, log: list[str]) -> Any:
    """One to three structural mutations of a deep copy of ``doc``."""
    doc = copy.deepcopy(doc)
    for _ in range(r.randint(1, 3)):
        if not isinstance(doc, dict | list) or r.random() < 0.03:
            log.append("root replaced")
            doc = r.choice(_HOSTILE)(r) if r.random() < 0.7 else _swap(doc)
            continue
        paths = _paths(doc)
        if not paths:
            doc = _swap(doc)
            continue
        node, key = r.choice(paths)
        op = r.randrange(5)
        if op == 0:
            node[key] = r.choice(_HOSTILE)(r)
            log.append(f"{key!r} := {str(node[key])[:40]!r}")
        elif op == 1:
            node[key] = _swap(node[key])
            log.append(f"{key!r} type-swapped")
        elif op == 2 and isinstance(node, dict):
            del node[key]
            log.append(f"{key!r} deleted")
        elif op == 3:
            other_node, other_key = r.choice(paths)
            node[key] = copy.deepcopy(other_node[other_key])
            log.append(f"{key!r} := copy of {other_key!r}")
        else:
            node[key] = [node[key]] if r.random() < 0.5 else {"v": node[key]}
            log.append(f"{key!r} wrapped")
    return doc


def _mutate_bytes(data: bytes, r: random.Random, log: list[str]) -> bytes:
    op = r.randrange(7)
    log.append(f"bytes op {op}")
    if op == 0:
        return b"[" * 5000 + data + b"]" * 5000
    if op == 1:
        return data.replace(b"1", b"NaN", 1) if b"1" in data else b"NaN"
    if op == 2:
        return data.replace(b"1", b"9" * 5000, 1) if b"1" in data else b"9" * 5000
    if op == 3:
        return data[: r.randrange(len(data) + 1)]
    if op == 4:
        at = r.randrange(len(data) + 1)
        return data[:at] + b"\xff\xfe" + data[at:]
    if op == 5:
        return b"\xef\xbb\xbf" + data
    return b'{"k": 1e999, "v": -Infinity}'


def mutate(doc: Any, r: random.Random, log: list[str]) -> bytes:
    """A mutated serialisation of ``doc`` (structural, then sometimes byte-level)."""
    data = json.dumps(mutate_tree(doc, r, log), ensure_ascii=r.random() < 0.5).encode(
        "utf-8", "surrogatepass"
    )
    return _mutate_bytes(data, r, log) if r.random() < 0.15 else data


# -- seeds ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeds:
    manifests: list[tuple[str, Any]]
    statements: list[Any]
    envelopes: list[Any]
    bundles: list[Any]
    simple_signing: list[Any]
    configs: list[Any]


@cache
def seeds() -> Seeds:
    """Every JSON blob of every committed OCI layout, by kind."""
    out = Seeds([], [], [], [], [], [])
    for blob in sorted(FIXTURES_DIR.glob("**/blobs/sha256/*")):
        try:
            doc = json.loads(blob.read_bytes())
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        kind = doc.get("mediaType")
        if "manifests" in doc or "layers" in doc:
            out.manifests.append((kind or mt.OCI_MANIFEST, doc))
        elif "_type" in doc:
            out.statements.append(doc)
        elif "payloadType" in doc:
            out.envelopes.append(doc)
        elif isinstance(kind, str) and kind.startswith("application/vnd.dev.sigstore.bundle"):
            out.bundles.append(doc)
        elif "critical" in doc:
            out.simple_signing.append(doc)
        elif "rootfs" in doc:
            out.configs.append(doc)
    for field in (out.manifests, out.statements, out.envelopes, out.bundles, out.simple_signing):
        assert field, "every kind of seed is in the fixtures"
    return out


@cache
def sbom_documents() -> list[Any]:
    docs = [json.loads(p.read_bytes()) for p in sorted((FIXTURES_DIR / "sbom").glob("*.json"))]
    docs += [json.loads(p.read_bytes()) for p in (FIXTURES_DIR / "sbom-stores").glob("*/*.json")]
    return [d for d in docs if isinstance(d, dict) and ("spdxVersion" in d or "bomFormat" in d)]


@cache
def tlog_world() -> tuple[Any, Any, bytes, Any]:
    """The stand-in Rekor, a signer, a signed envelope and the trusted root's log keys."""
    rekor = sim.FakeRekor()
    signer = ec.derive_private_key(12345, ec.SECP256R1())
    envelope = sim.sign_envelope(signer, {"_type": "https://in-toto.io/Statement/v1", "n": 1})
    logs = parse_trusted_root(json.dumps(rekor.trusted_root()).encode())
    return rekor, signer, envelope, logs


# -- the harness ----------------------------------------------------------------------------------


def fuzz(
    name: str,
    docs: list[Any],
    target: Callable[[bytes], object],
    *,
    budget: float = BUDGET,
    min_cases: int = 20,
) -> None:
    """Feed mutations of ``docs`` to ``target`` until ``budget`` seconds are spent; fail on
    anything that is not a :class:`ProvcheckError`."""
    assert docs, f"{name}: no seeds"
    r = random.Random(f"{SEED}:{name}")
    deadline = time.monotonic() + budget
    failures: list[str] = []
    cases = 0
    while cases < MAX_CASES and time.monotonic() < deadline:
        cases += 1
        log: list[str] = []
        data = mutate(r.choice(docs), r, log)
        try:
            target(data)
        except ProvcheckError:
            pass
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            failures.append(
                f"{name} case {cases} ({'; '.join(log)[:200]}): {type(exc).__name__}: "
                f"{str(exc)[:120]} at {Path(where.filename).name}:{where.lineno}"
            )
            if len(failures) >= 10:
                break
    assert not failures, "\n".join(failures)
    assert cases >= min_cases, f"{name}: only {cases} cases in {budget} s"


# -- one test per parser input -------------------------------------------------------------------

DIGEST: Final = Digest.of(b"platform manifest")
AMD64: Final = Platform("linux", "amd64")


def _statement_consumers(data: bytes) -> None:
    statement = parse_statement(data)
    hint = statement.predicate_type
    bind_statement(statement, manifest=DIGEST, platform=AMD64, index=None, predicate_type_hint=hint)
    kind = predicate_kind(statement.predicate_type)
    if kind is PredicateKind.PROVENANCE:
        provenance = parse_provenance(statement)
        for material in provenance.materials:
            _ = material.image, material.sha256
        _ = provenance.build_args, provenance.labels, list(provenance.all_build_args())
    elif kind is PredicateKind.SBOM:
        parse_sbom(statement)


def test_statements_provenance_and_sboms() -> None:
    fuzz("statement", seeds().statements, _statement_consumers)


def test_slsa_predicates() -> None:
    """Mutations inside the predicate only, so that they reach the provenance parser."""
    docs = [
        s
        for s in seeds().statements
        if predicate_kind(s["predicateType"]) is not PredicateKind.OTHER
    ]

    def target(data: bytes) -> None:
        predicate = load_manifest_json(data, "predicate")
        _statement_consumers(json.dumps({**docs[0], "predicate": predicate}).encode())

    fuzz("predicate", [d["predicate"] for d in docs], target)


def test_sbom_documents() -> None:
    def target(data: bytes) -> None:
        document = load_manifest_json(data, "sbom")
        kind = (
            "https://spdx.dev/Document" if b"spdxVersion" in data else "https://cyclonedx.org/bom"
        )
        statement = {
            "_type": "https://in-toto.io/Statement/v1",
            "predicateType": kind,
            "subject": [{"name": "x", "digest": {"sha256": DIGEST.hex}}],
            "predicate": document,
        }
        _statement_consumers(json.dumps(statement).encode())

    fuzz("sbom", sbom_documents(), target)


def test_dsse_envelopes() -> None:
    def target(data: bytes) -> None:
        verify_statement_envelope(parse_envelope(data), None)

    fuzz("envelope", seeds().envelopes, target)


def test_dsse_payloads() -> None:
    """Envelopes whose payload is a mutated statement."""
    statements = [
        s
        for e in seeds().envelopes
        if isinstance(s := json.loads(base64.b64decode(e["payload"])), dict)
    ]

    def target(data: bytes) -> None:
        envelope = {
            "payloadType": "application/vnd.in-toto+json",
            "payload": base64.b64encode(data).decode(),
            "signatures": [{"keyid": "", "sig": "AAAA"}],
        }
        checked = verify_statement_envelope(parse_envelope(json.dumps(envelope).encode()), None)
        if checked.statement is not None:
            _statement_consumers(data)

    fuzz("dsse-payload", statements, target)


def test_sigstore_bundles() -> None:
    rekor, signer, envelope, _ = tlog_world()
    entry = rekor.bundle_entry(sim.dsse_v001_body(envelope, sim.public_pem(signer)))
    docs = [*seeds().bundles, json.loads(sim.key_bundle(envelope, [entry], "hint"))]

    def target(data: bytes) -> None:
        _tlog_entries(data)
        sb.parse_bundle(data)

    fuzz("bundle", docs, target)


def test_cosign_simple_signing() -> None:
    fuzz("simple-signing", seeds().simple_signing, parse_simple_signing)


def test_manifests_and_indexes() -> None:
    def target_for(media_type: str) -> Callable[[bytes], object]:
        return lambda data: parse_manifest(data, media_type)

    by_type: dict[str, list[Any]] = {}
    for media_type, doc in seeds().manifests:
        by_type.setdefault(media_type, []).append(doc)
    for media_type, docs in sorted(by_type.items()):
        fuzz(f"manifest {media_type}", docs, target_for(media_type))


def test_image_configs() -> None:
    def target(data: bytes) -> None:
        config = load_manifest_json(data, "config")
        Platform.from_dict(config)

    fuzz("image-config", seeds().configs, target)


def _material() -> DsseMaterial:
    _, signer, envelope, _ = tlog_world()
    key = parse_public_key(sim.public_pem(signer))
    return DsseMaterial(parse_envelope(envelope), (key,), envelope)


def test_cosign_bundle_annotations() -> None:
    """``dev.sigstore.cosign/bundle`` next to a validly signed envelope, checked for real."""
    rekor, signer, envelope, logs = tlog_world()
    annotation = rekor.cosign_annotation(sim.intoto_v002_body(envelope, sim.public_pem(signer)))
    material = _material()
    outcome = check_tlog(evidence_from_annotations({BUNDLE_ANNOTATION: annotation}), logs, material)
    assert outcome.status is TlogStatus.VERIFIED, outcome

    def target(data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        has_tlog_bundle({BUNDLE_ANNOTATION: text})
        check_tlog(evidence_from_annotations({BUNDLE_ANNOTATION: text}), logs, material)

    fuzz("cosign-bundle-annotation", [json.loads(annotation)], target)


def test_bundle_tlog_entries() -> None:
    rekor, signer, envelope, logs = tlog_world()
    entry = rekor.bundle_entry(sim.dsse_v001_body(envelope, sim.public_pem(signer)))
    material = _material()

    def target(data: bytes) -> None:
        check_tlog(evidence_from_bundle(load_manifest_json(data, "entries")), logs, material)

    fuzz("tlog-entries", [[entry]], target)


def test_trusted_roots() -> None:
    rekor = tlog_world()[0]
    fuzz("trusted-root", [rekor.trusted_root()], parse_trusted_root)


def test_registry_error_bodies_never_raise() -> None:
    doc = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {}}]}
    fuzz("registry-error-body", [doc], registry_error_detail)


def test_token_responses(tmp_path: Path) -> None:
    """What a token server answers, through the real auth flow (httpx.MockTransport)."""
    blob = b"blob"
    descriptor = Descriptor(mt.IN_TOTO, Digest.of(blob), len(blob))
    options = RegistryOptions(docker_config_dir=tmp_path, backoff_base=0.0, max_retry_after=0.01)
    answer = [b""]
    cases = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, content=answer[0])
        if request.headers.get("Authorization") == "Bearer T0KEN":
            return httpx.Response(200, content=blob)
        challenge = 'Bearer realm="https://registry.example.com/token",service="r"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    # One client and loop for every case; a repository per case, so that each needs a token.
    loop = asyncio.new_event_loop()
    client = RegistryClient(options, transport=httpx.MockTransport(handler))

    def target(data: bytes) -> None:
        answer[0] = data
        cases[0] += 1
        source = client.source(ImageReference.parse(f"registry.example.com/lab/x{cases[0]}:1"))
        loop.run_until_complete(source.fetch_blob(descriptor, 1024))

    try:
        token = {"token": "T0KEN", "expires_in": 300, "issued_at": "2026-01-01T00:00:00Z"}
        fuzz("token-response", [token], target)
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()


def test_docker_config_files(tmp_path: Path) -> None:
    auth = base64.b64encode(b"user:pass").decode()
    doc = {
        "auths": {"registry.example.com": {"auth": auth, "identitytoken": "x"}},
        "credHelpers": {"other.io": "x"},
    }

    loop = asyncio.new_event_loop()

    def target(data: bytes) -> None:
        (tmp_path / "config.json").write_bytes(data)
        provider = DockerCredentials(tmp_path)
        loop.run_until_complete(provider.credentials("registry.example.com"))

    try:
        fuzz("docker-config", [doc], target)
    finally:
        loop.close()


def test_credential_helper_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "docker-credential-fuzz"
    answer = tmp_path / "answer"
    script.write_text(f"#!/bin/sh\ncat '{answer}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")

    loop = asyncio.new_event_loop()
    call = HelperCall("fuzz", "registry.example.com")

    def target(data: bytes) -> None:
        answer.write_bytes(data)
        loop.run_until_complete(run_credential_helper_async(call, 5.0))

    try:
        fuzz(
            "credential-helper",
            [{"ServerURL": "registry.example.com", "Username": "u", "Secret": "s"}],
            target,
        )
    finally:
        loop.close()


def test_policy_files(tmp_path: Path) -> None:
    import yaml

    docs = [yaml.safe_load(p.read_text()) for p in sorted((REPO_ROOT / "policies").glob("*.yaml"))]

    def target(data: bytes) -> None:
        path = tmp_path / "policy.yaml"
        path.write_bytes(data)
        load_policy(path)

    fuzz("policy", docs, target)


# -- end to end: a hostile statement next to a valid one, through the library and the CLI -------


def _every_output(reference: str, policy: Policy) -> None:
    """What ``inspect`` (every format), ``verify`` (every format) and ``sbom`` compute."""
    options = DiscoveryOptions(signature_stores=True, image_configs=True)
    found = inspect_image(reference, options=options)
    json.dumps(inspect_document(found))
    render_inspect_text(found)
    go_json_indent(provenance_document(found))
    go_json_indent(sbom_document(found))
    for image in found.images:
        for usable in image.statements(PredicateKind.SBOM):
            sbom = parse_sbom(usable.statement)
            for export in ExportFormat:
                export_sboms([SbomEntry(image.platform.key, usable.source, sbom)], export)
    report = verify_image(reference, policy)
    for fmt in ReportFormat:
        render(report, fmt)


def test_library_and_cli_on_hostile_attestations(tmp_path: Path) -> None:
    """An image whose second statement is mutated (its subject kept, so that it binds and
    reaches the rules and renderers): every output is computed, and the CLI exits 0, 1 or 3."""
    policy_path = REPO_ROOT / "policies" / "strict.yaml"
    policy = load_policy(policy_path)
    real = [
        s
        for s in seeds().statements
        if predicate_kind(s["predicateType"]) is not PredicateKind.OTHER
    ]
    cases = [0]

    def target(data: bytes) -> None:
        cases[0] += 1
        builder = ImageBuilder(f"fuzz{cases[0]}")
        entry = builder.add_platform("linux/amd64")
        valid = provenance_statement(entry.digest)
        hostile = load_manifest_json(data, "statement")
        if isinstance(hostile, dict):
            hostile["subject"] = valid["subject"]
        else:
            hostile = {**valid, "predicate": hostile}
        builder.attest(entry, [valid, hostile], predicate_type_annotations=[None, None])
        layout = builder.build().write_layout(tmp_path / f"l{cases[0]}")
        reference = f"oci-layout://{layout}:1"
        _every_output(reference, policy)
        if cases[0] % 5 == 1:
            with _quiet():
                code = main(["verify", reference, "--policy", str(policy_path)])
            assert code in (0, 1, 3), code

    fuzz("library", real, target, budget=3 * BUDGET, min_cases=10)


def test_library_on_hostile_image_configs(tmp_path: Path) -> None:
    """An image config (Env, history, platform: what the build-args rule reads) mutated."""
    policy = load_policy(REPO_ROOT / "policies" / "strict.yaml")
    cases = [0]

    def target(data: bytes) -> None:
        cases[0] += 1
        config = load_manifest_json(data, "config")
        builder = ImageBuilder(f"config{cases[0]}")
        entry = builder.add_platform("linux/amd64", config if isinstance(config, dict) else {})
        builder.attest(entry, [provenance_statement(entry.digest)])
        layout = builder.build().write_layout(tmp_path / f"c{cases[0]}")
        _every_output(f"oci-layout://{layout}:1", policy)

    fuzz("config-library", seeds().configs, target, budget=2 * BUDGET, min_cases=10)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def test_the_mutator_replays_a_seed_in_another_process() -> None:
    """A failure report (target, case number, mutations) is replayable: the same seed gives
    the same mutated bytes and log in a fresh interpreter under another hash seed."""
    code = (
        "import hashlib, random, sys\n"
        "from tests.unit.test_fuzz_parsers import mutate, seeds\n"
        "r, log, h = random.Random(7), [], hashlib.sha256()\n"
        "for doc in seeds().statements[:4] + [d for _, d in seeds().manifests[:4]]:\n"
        "    for _ in range(25):\n"
        "        h.update(mutate(doc, r, log))\n"
        "print(h.hexdigest(), len(log), hashlib.sha256(repr(log).encode()).hexdigest())\n"
    )
    first, second = run_under_seeds(code)
    assert first == second
    assert int(first.split()[1]) >= 200  # 200 cases, one to three mutations each


def test_the_mutator_leaves_the_recursion_limit() -> None:
    mutate(seeds().statements[0], random.Random(7), [])
    assert sys.getrecursionlimit() >= 1000

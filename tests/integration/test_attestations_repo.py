"""``--attestations-repo`` (and ``$COSIGN_REPOSITORY``): signatures and attestations that the real
cosign 2.5 wrote into another repository (``COSIGN_REPOSITORY=… cosign attest/sign``, no
transparency log), in the test registry and in a second registry with basic auth. They are found
there, verified, and bound to the image by digest exactly as at home; a statement for another
digest stored there is rejected.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import httpx
import pytest

from provcheck.api import inspect_image, verify_image
from provcheck.attestation.keys import load_public_key
from provcheck.attestation.signatures import RejectionReason, SignedKind, TrustConfig
from provcheck.cli import main
from provcheck.discovery.model import (
    AttestationOrigin,
    ImageAttestations,
    ProblemKind,
    StoreRepository,
    TrustLevel,
)
from provcheck.discovery.options import DiscoveryOptions
from provcheck.oci.reference import parse_repository
from provcheck.policy.loader import load_policy
from provcheck.report.model import Status, Verdict
from tests.conftest import require_docker_registry
from tests.cosign_tool import Cosign as CosignTool
from tests.oci_builder import ImageBuilder, provenance_statement, spdx_statement
from tests.oci_push import OCI_INDEX, push_blob, push_manifest, sha256_digest
from tests.reference_tools import reference_tool
from tests.registry import RegistryServer

NO_TLOG = ("--tlog-upload=false", "--yes", "--allow-http-registry")
USER, PASSWORD = "signer", "an0ther-Registry-pass"


@dataclass(frozen=True)
class Cosign(CosignTool):
    @property
    def key(self) -> Path:
        return self.home / "k1.key"

    @property
    def public(self) -> Path:
        return self.home / "k1.pub"


@dataclass(frozen=True)
class OtherRegistry:
    """A second docker-registry with basic auth, and a Docker config holding its credentials."""

    server: RegistryServer
    docker_config: Path

    @property
    def host(self) -> str:
        return self.server.host


def cosign_with_a_key(tmp_path_factory: pytest.TempPathFactory) -> Cosign:
    """The real cosign in a private home, with the key pair ``k1`` generated there."""
    tool = Cosign(reference_tool("cosign"), tmp_path_factory.mktemp("cosign"))
    tool("generate-key-pair", "--output-key-prefix", "k1")
    return tool


@pytest.fixture(scope="module")
def cosign(tmp_path_factory: pytest.TempPathFactory) -> Cosign:
    return cosign_with_a_key(tmp_path_factory)


@pytest.fixture(scope="module")
def other_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OtherRegistry]:
    require_docker_registry()
    work = tmp_path_factory.mktemp("other-registry")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (work / "htpasswd").write_text(f"{USER}:{hashed}\n")
    with RegistryServer(work / "registry", htpasswd=work / "htpasswd") as server:
        config = work / "docker"
        config.mkdir()
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        (config / "config.json").write_text(json.dumps({"auths": {server.host: {"auth": auth}}}))
        yield OtherRegistry(server, config)


@dataclass(frozen=True)
class Pushed:
    repo: str
    digest: str

    @property
    def ref(self) -> str:
        return f"{self.repo}@{self.digest}"


def push_image(
    registry: RegistryServer, repository: str, name: str, layout: Path | None = None
) -> Pushed:
    """A one-platform index without attestations in it (they live elsewhere); also written as
    an OCI layout at ``layout``."""
    builder = ImageBuilder(name)
    builder.add_platform("linux/amd64")
    image = builder.build()
    image.push(registry.url, repository, "1")
    if layout is not None:
        image.write_layout(layout)
    return Pushed(f"{registry.host}/{repository}", image.root_digest)


def attest(cosign: Cosign, pushed: Pushed, repository: str, tmp_path: Path) -> None:
    """``COSIGN_REPOSITORY=repository cosign attest`` a SLSA provenance predicate for ``pushed``."""
    predicate = tmp_path / "predicate.json"
    predicate.write_text(json.dumps(provenance_statement(pushed.digest)["predicate"]))
    cosign(
        "attest",
        "--key",
        str(cosign.key),
        "--type",
        "slsaprovenance",
        "--predicate",
        str(predicate),
        *NO_TLOG,
        pushed.ref,
        repository=repository,
    )


def attested_elsewhere(
    registry: RegistryServer,
    repository: str,
    cosign: Cosign,
    tmp_path: Path,
    name: str,
    layout: Path | None = None,
) -> tuple[Pushed, str]:
    """``push_image`` to ``repository``, attested by cosign into ``<repository>-attestations``
    of the same registry; the image and that attestations repository."""
    pushed = push_image(registry, repository, name, layout)
    store = f"{registry.host}/{repository}-attestations"
    attest(cosign, pushed, store, tmp_path)
    return pushed, store


def policy(tmp_path: Path, cosign: Cosign) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "apiVersion: provcheck/v1\nkind: Policy\nrules:\n  provenance:\n    required: true\n"
        f"    min-trust: signed\n  signatures:\n    required: true\n    keys: [{cosign.public}]\n"
    )
    return path


def found_with(ref: str, cosign: Cosign, repository: str | None) -> ImageAttestations:
    options = DiscoveryOptions(
        signature_stores=True,
        trust=TrustConfig((load_public_key(cosign.public),)),
        attestations_repository=parse_repository(repository) if repository else None,
    )
    return inspect_image(ref, options=options)


def test_attestation_in_another_repository_is_found_verified_and_bound(
    registry_server: RegistryServer, unique_repository: str, cosign: Cosign, tmp_path: Path
) -> None:
    pushed, store = attested_elsewhere(
        registry_server, unique_repository, cosign, tmp_path, "elsewhere-same-registry"
    )

    home_only = found_with(pushed.ref, cosign, None)
    assert not list(home_only.images[0].statements())  # nothing at home
    assert home_only.attestations_repository is None

    found = found_with(pushed.ref, cosign, store)
    assert found.attestations_repository == store
    (usable,) = found.images[0].statements()
    assert usable.manifest.repository is StoreRepository.ATTESTATIONS_REPO
    assert usable.manifest.origin is AttestationOrigin.COSIGN_TAG
    assert usable.layer.trust is TrustLevel.SIGNED
    assert usable.layer.binding is not None and usable.layer.binding.usable
    assert not list(found.all_problems())

    rules = load_policy(policy(tmp_path, cosign))
    assert verify_image(pushed.ref, rules).verdict is Verdict.FAIL  # not looked for there
    report = verify_image(pushed.ref, rules, attestations_repository=store)
    assert report.verdict is Verdict.PASS, [(r.rule, r.status, r.message) for r in report.results]


def test_an_oci_layout_reads_the_attestations_repository_of_a_registry(
    registry_server: RegistryServer, unique_repository: str, cosign: Cosign, tmp_path: Path
) -> None:
    """The image copied to a local layout: its signed attestation is still found by digest in
    the registry's attestations repository."""
    layout = tmp_path / "oci"
    _, store = attested_elsewhere(
        registry_server, unique_repository, cosign, tmp_path, "elsewhere-layout", layout
    )
    found = found_with(f"oci-layout://{layout}:1", cosign, store)
    (usable,) = found.images[0].statements()
    assert usable.manifest.repository is StoreRepository.ATTESTATIONS_REPO
    assert usable.layer.trust is TrustLevel.SIGNED


def test_cli_flag_and_cosign_repository_variable(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pushed = push_image(registry_server, unique_repository, "elsewhere-cli")
    store = f"{registry_server.host}/{unique_repository}/sigs"
    attest(cosign, pushed, store, tmp_path)
    rules = str(policy(tmp_path, cosign))
    monkeypatch.delenv("COSIGN_REPOSITORY", raising=False)

    assert main(["verify", pushed.ref, "--policy", rules]) == 1
    capsys.readouterr()
    assert main(["verify", pushed.ref, "--policy", rules, "--attestations-repo", store]) == 0
    capsys.readouterr()

    monkeypatch.setenv("COSIGN_REPOSITORY", store)  # as cosign reads it
    assert main(["verify", pushed.ref, "--policy", rules]) == 0
    capsys.readouterr()
    assert main(["inspect", pushed.ref, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["attestationsRepository"] == store
    stores = {m["repository"] for image in doc["images"] for m in image["attestationManifests"]}
    assert stores == {"attestations-repo"}
    assert main(["inspect", pushed.ref]) == 0
    assert f"Also read:  {store}" in capsys.readouterr().out

    monkeypatch.setenv("COSIGN_REPOSITORY", "Not A Repository")
    assert main(["verify", pushed.ref, "--policy", rules]) == 2
    assert "$COSIGN_REPOSITORY" in capsys.readouterr().err
    # the flag wins over the variable; a tag is not a repository
    assert main(["verify", pushed.ref, "--policy", rules, "--attestations-repo", store]) == 0
    assert main(["verify", pushed.ref, "--policy", rules, "--attestations-repo", f"{store}:1"]) == 2
    capsys.readouterr()
    assert main(["audit", "merge", str(tmp_path / "x.jsonl"), "--attestations-repo", store]) == 2
    assert "--attestations-repo cannot be used with merge" in capsys.readouterr().err


def test_verify_evidence_reads_the_other_repository(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``verify --evidence`` honours ``--attestations-repo`` as every other verify does."""
    pushed, store = attested_elsewhere(
        registry_server, unique_repository, cosign, tmp_path, "elsewhere-evidence"
    )
    monkeypatch.delenv("COSIGN_REPOSITORY", raising=False)
    argv = ["verify", pushed.ref, "--policy", str(policy(tmp_path, cosign)), "--cache", "none"]
    argv += ["--attestations-repo", store, "--evidence", str(tmp_path / "pack")]
    assert main(argv) == 0, capsys.readouterr().err
    assert (tmp_path / "pack").is_dir()


def test_explain_reads_the_other_repository(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``explain --attestations-repo`` lists the signed provenance stored there."""
    pushed, store = attested_elsewhere(
        registry_server, unique_repository, cosign, tmp_path, "elsewhere-explain"
    )
    monkeypatch.delenv("COSIGN_REPOSITORY", raising=False)
    argv = ["explain", pushed.ref, "--policy", str(policy(tmp_path, cosign)), "--format", "json"]
    assert main([*argv, "--attestations-repo", store]) == 0
    doc = json.loads(capsys.readouterr().out)
    (platform,) = doc["platforms"]
    found = {(e["kind"], e["repository"], e["trust"]) for e in platform["evidence"]}
    assert ("provenance", "attestations-repo", "signed") in found
    assert "provenance" not in platform["missing"]


def _attach_sbom(registry: RegistryServer, pushed: Pushed, repository: str) -> None:
    """An SPDX SBOM referrer of ``pushed`` (as ``oras attach`` writes it) in ``repository``,
    listed in its referrers fallback tag ``sha256-<hex>`` (distribution 2.8 has no API)."""
    spdx = spdx_statement(str(pushed.digest), [{"name": "zlib", "version": "1.3"}])["predicate"]
    document = json.dumps(spdx).encode()
    empty = b"{}"
    home = pushed.ref.split("/", 1)[1].split("@", 1)[0]
    root = httpx.head(
        f"{registry.url}/v2/{home}/manifests/{pushed.digest}",
        headers={"Accept": "application/vnd.oci.image.index.v1+json"},
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/spdx+json",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": push_blob(registry.url, repository, empty),
            "size": len(empty),
        },
        "layers": [
            {
                "mediaType": "application/spdx+json",
                "digest": push_blob(registry.url, repository, document),
                "size": len(document),
            }
        ],
        "subject": {
            "mediaType": root.headers["Content-Type"],
            "digest": str(pushed.digest),
            "size": int(root.headers["Content-Length"]),
        },
    }
    body = json.dumps(manifest).encode()
    kind = "application/vnd.oci.image.manifest.v1+json"
    digest = push_manifest(registry.url, repository, sha256_digest(body), body, kind)
    entry = {"mediaType": kind, "digest": digest, "size": len(body)}
    entry["artifactType"] = "application/spdx+json"
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
    tag = str(pushed.digest).replace(":", "-")
    push_manifest(registry.url, repository, tag, json.dumps(index).encode(), OCI_INDEX)


def test_sbom_export_and_validate_read_the_other_repository(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``sbom`` and ``sbom --validate`` both read the SBOM referrer stored elsewhere."""
    pushed = push_image(registry_server, unique_repository, "elsewhere-sbom")
    store = f"{unique_repository}-attestations"
    _attach_sbom(registry_server, pushed, store)
    monkeypatch.delenv("COSIGN_REPOSITORY", raising=False)
    elsewhere = ["--attestations-repo", f"{registry_server.host}/{store}"]
    assert main(["sbom", pushed.ref, *elsewhere]) == 0, capsys.readouterr()
    assert "zlib" in capsys.readouterr().out
    assert main(["sbom", pushed.ref, "--validate", *elsewhere]) == 0, capsys.readouterr()
    assert capsys.readouterr().out.startswith("valid: ")


def test_audit_reads_the_other_repository_and_keys_its_verdicts_by_it(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pushed, store = attested_elsewhere(
        registry_server, unique_repository, cosign, tmp_path, "elsewhere-audit"
    )
    monkeypatch.delenv("COSIGN_REPOSITORY", raising=False)
    monkeypatch.setenv("PROVCHECK_CACHE_HMAC_KEY", "k" * 32)
    audit = ["audit", "--policy", str(policy(tmp_path, cosign)), pushed.ref, "-q"]
    audit += ["--format", "jsonl", "--cache", str(tmp_path / "cache")]
    for extra, code in (([], 1), (["--attestations-repo", store], 0), ([], 1)):
        assert main([*audit, *extra]) == code  # a cached verdict of one is never the other's
        (line,) = capsys.readouterr().out.splitlines()
        assert json.loads(line)["verdict"] == ("pass" if code == 0 else "fail")


def test_signature_and_attestation_on_another_registry_with_its_own_credentials(
    registry_server: RegistryServer,
    other_registry: OtherRegistry,
    unique_repository: str,
    cosign: Cosign,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The image on the anonymous test registry, its signature and attestation on a second
    registry that needs basic auth: cosign and provcheck read the credentials of each host from
    one Docker config."""
    pushed = push_image(registry_server, unique_repository, "elsewhere-other-registry")
    store = f"{other_registry.host}/signatures/{unique_repository}"
    (cosign.home / "docker").mkdir(exist_ok=True)
    (cosign.home / "docker" / "config.json").write_bytes(
        (other_registry.docker_config / "config.json").read_bytes()
    )
    attest(cosign, pushed, store, tmp_path)
    cosign("sign", "--key", str(cosign.key), *NO_TLOG, pushed.ref, repository=store)
    monkeypatch.setenv("DOCKER_CONFIG", str(other_registry.docker_config))
    monkeypatch.delenv("COSIGN_REPOSITORY", raising=False)
    mark = other_registry.server.mark()

    rules = str(policy(tmp_path, cosign))
    code = main(
        ["verify", pushed.ref, "--policy", rules, "--format", "json", "--attestations-repo", store]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    requests = other_registry.server.requests_since(mark)
    assert any(r.status == 401 for r in requests)  # it asked for credentials, and got in
    assert all(
        f"/v2/signatures/{unique_repository}/" in r.path for r in requests if r.path != "/v2/"
    )

    found = found_with(pushed.ref, cosign, store)
    kinds = {(s.kind, s.check.accepted) for s in found.signed}
    assert kinds == {(SignedKind.ATTESTATION, True), (SignedKind.IMAGE_SIGNATURE, True)}

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-credentials"))
    denied = found_with(pushed.ref, cosign, store)  # fail closed: a store it cannot read
    assert not list(denied.images[0].statements())
    assert {p.kind for p in denied.all_problems()} == {ProblemKind.FETCH}


def test_a_statement_there_for_another_digest_is_rejected(
    registry_server: RegistryServer,
    unique_repository: str,
    cosign: Cosign,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """cosign attested image B; its ``.att`` is copied to the tag of image A's digest in the
    attestations repository. Found for A, bound to B: never used for A."""
    a = push_image(registry_server, unique_repository, "elsewhere-a")
    b = push_image(registry_server, f"{unique_repository}-b", "elsewhere-b")
    store = f"{registry_server.host}/{unique_repository}-attestations"
    attest(cosign, b, store, tmp_path)
    repository = store.split("/", 1)[1]
    with httpx.Client() as http:
        b_tag = f"sha256-{b.digest.split(':')[1]}.att"
        got = http.get(
            f"{registry_server.url}/v2/{repository}/manifests/{b_tag}",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        got.raise_for_status()
        a_tag = f"sha256-{a.digest.split(':')[1]}.att"
        push_manifest(
            registry_server.url,
            repository,
            a_tag,
            got.content,
            got.headers["content-type"],
            client=http,
        )

    found = found_with(a.ref, cosign, store)
    assert not list(found.images[0].statements())
    (signed,) = found.signed
    assert signed.check.signers  # a good signature by the trusted key: of something else
    assert signed.check.rejected_for(RejectionReason.BOUND_ELSEWHERE)
    assert {p.kind for p in found.all_problems()} == {ProblemKind.BINDING}

    rules = str(policy(tmp_path, cosign))
    assert main(["verify", a.ref, "--policy", rules, "--attestations-repo", store]) == 3
    assert main(["verify", b.ref, "--policy", rules, "--attestations-repo", store]) == 0
    capsys.readouterr()


def test_report_names_where_it_looked(
    registry_server: RegistryServer, unique_repository: str, cosign: Cosign, tmp_path: Path
) -> None:
    """The verdict of the signatures rule comes from the statement found elsewhere."""
    pushed, store = attested_elsewhere(
        registry_server, unique_repository, cosign, tmp_path, "elsewhere-report"
    )
    report = verify_image(
        pushed.ref, load_policy(policy(tmp_path, cosign)), attestations_repository=store
    )
    results = {r.rule: r for r in report.results if r.platform == "linux/amd64"}
    assert results["provenance"].status is Status.PASS
    assert results["signatures"].status is Status.PASS


def test_the_admission_gate_reads_the_attestations_repository(
    registry_server: RegistryServer, unique_repository: str, cosign: Cosign, tmp_path: Path
) -> None:
    """``serve --attestations-repo``: the Gate admits an image whose signed provenance cosign
    wrote into another repository, and denies it when not told where to look."""
    import asyncio

    from provcheck.admission import Decision, Gate
    from provcheck.cache import open_cache
    from provcheck.policy.loader import parse_policy
    from provcheck.policy.resolver import FileResolver
    from provcheck.source.registry import RegistryOptions
    from tests import admission_docs as docs

    pushed, store = attested_elsewhere(
        registry_server, unique_repository, cosign, tmp_path, "elsewhere-gate"
    )
    document = policy(tmp_path, cosign).read_bytes()
    rules = parse_policy(document, "policy.yaml", resolver=FileResolver(tmp_path))

    def decision(repository: str | None, cache: str) -> Decision:
        async def run() -> Decision:
            store_cache = open_cache(str(tmp_path / cache))
            gate = Gate(
                rules,
                document,
                store_cache,
                registry=RegistryOptions(),
                attestations_repository=parse_repository(repository) if repository else None,
            )
            try:
                body = docs.body(docs.pod_create([f"{pushed.repo}:1"]))
                return (await gate.review(body, mutate=False)).decision
            finally:
                await gate.aclose()
                await store_cache.aclose()

        return asyncio.run(run())

    assert decision(store, "with") is Decision.ALLOWED
    assert decision(None, "without") is Decision.DENIED

"""Exemptions of the policy (``exemptions``): by namespace and by image pattern, used with a
warning, in the log and to the observer; an expired one no longer applies, at the second the
Gate's clock passes it; ``policy lint`` warns about expired ones and rejects malformed ones."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from provcheck.admission import Decision, ReviewOutcome
from provcheck.cli import main
from tests import admission_docs as docs
from tests.gate_support import POLICY_TEXT, Recorder, make_gate, patch_of
from tests.registry import RealRegistry


def _policy(host: str) -> str:
    return POLICY_TEXT + (
        "exemptions:\n"
        "  - namespace: legacy\n"
        "    expires: 2099-01-01\n"
        "    reason: migrating off the old CI\n"
        f'  - image: "{host}/lab/h-no-attest:*"\n'
        '    expires: "2030-06-30T12:00:00+02:00"\n'
        "    reason: vendor image, ticket SEC-42\n"
        f'  - image: "{host}/lab/c-secrets-max*"\n'
        "    expires: 2020-01-01\n"
        "    reason: long gone\n"
    )


def _review(
    tmp_path: Path,
    registry: RealRegistry,
    doc: docs.Doc,
    *,
    recorder: Recorder | None = None,
    now: datetime | None = None,
    mutate: bool = False,
) -> ReviewOutcome:
    async def run() -> ReviewOutcome:
        gate = make_gate(
            tmp_path / "cache",
            policy_text=_policy(registry.host),
            observer=recorder,
            clock=(lambda: now) if now is not None else None,
        )
        try:
            return await gate.review(docs.body(doc), mutate=mutate)
        finally:
            await gate.aclose()

    return asyncio.run(run())


def test_an_image_exemption_allows_with_a_warning_without_verifying(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    exempt, verified = real_registry.ref("h-no-attest"), real_registry.ref("b-multi-max")
    recorder = Recorder()
    mark = real_registry.server.mark()
    outcome = _review(
        tmp_path, real_registry, docs.pod_create([exempt, verified]), recorder=recorder, mutate=True
    )
    inner = outcome.response["response"]
    assert inner["allowed"] is True and outcome.decision is Decision.ALLOWED
    label = f"image={real_registry.host}/lab/h-no-attest:*"
    assert inner["warnings"] == [
        f"{exempt}: allowed unverified by the exemption {label} "
        "(reason: vendor image, ticket SEC-42; expires 2030-06-30T10:00:00+00:00)"
    ]
    assert outcome.log["exemptions"] == [
        {
            "exemption": label,
            "image": exempt,
            "reason": "vendor image, ticket SEC-42",
            "expires": "2030-06-30T10:00:00+00:00",
        }
    ]
    assert [(i["image"], i["verdict"]) for i in outcome.log["images"]] == [
        (exempt, "exempt"),
        (verified, "verified"),
    ]
    assert recorder.exemptions == [label]
    paths = {e.path.split("/manifests/")[0] for e in real_registry.server.requests_since(mark)}
    assert "/v2/lab/h-no-attest" not in paths  # never fetched
    ops = patch_of(outcome.response)
    assert ops is not None and [op["path"] for op in ops] == ["/spec/containers/1/image"]


def test_a_namespace_exemption_applies_in_its_namespace_only(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    bad = real_registry.ref("e3-syntax-evil")
    legacy = _review(tmp_path, real_registry, docs.pod_create([bad], namespace="legacy"))
    assert legacy.decision is Decision.ALLOWED
    assert legacy.log["exemptions"][0]["exemption"] == "namespace=legacy"
    shop = _review(tmp_path, real_registry, docs.pod_create([bad], namespace="shop"))
    assert shop.decision is Decision.DENIED and "warnings" not in shop.response["response"]


def test_what_is_no_image_reference_is_denied_even_in_an_exempt_namespace(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    doc = docs.pod_create(["Not/A:Reference:At:All"], namespace="legacy")
    outcome = _review(tmp_path, real_registry, doc)
    assert outcome.decision is Decision.DENIED and outcome.log["exemptions"] == []


def test_an_expired_exemption_no_longer_applies(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    recorder = Recorder()
    doc = docs.pod_create([real_registry.ref("c-secrets-max")])
    outcome = _review(tmp_path, real_registry, doc, recorder=recorder)
    assert outcome.decision is Decision.DENIED and outcome.log["exemptions"] == []
    assert recorder.exemptions == []


@pytest.mark.parametrize(
    ("now", "decision"),
    [
        (datetime(2030, 6, 30, 9, 59, 59, tzinfo=UTC), Decision.ALLOWED),
        (datetime(2030, 6, 30, 10, 0, 0, tzinfo=UTC), Decision.DENIED),
    ],
)
def test_an_exemption_expires_at_its_time_by_the_gates_clock(
    real_registry: RealRegistry, tmp_path: Path, now: datetime, decision: Decision
) -> None:
    doc = docs.pod_create([real_registry.ref("h-no-attest")])
    assert _review(tmp_path, real_registry, doc, now=now).decision is decision


def test_policy_lint_warns_about_expired_exemptions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(_policy("registry.example.com"))
    assert main(["policy", "lint", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}: ok\n"
    line = POLICY_TEXT.count("\n") + 8
    assert err == (
        f"{path}:{line}: warning: exemption image=registry.example.com/lab/c-secrets-max* "
        "expired on 2020-01-01T00:00:00+00:00: it no longer applies\n"
    )


@pytest.mark.parametrize(
    ("entry", "line", "message"),
    [
        (
            "  - expires: 2099-01-01\n    reason: nothing named\n",
            1,
            "exemptions[0]: an exemption needs a namespace or an image (or both)",
        ),
        (
            "  - namespace: a\n    expires: next weekend\n    reason: r\n",
            2,
            "exemptions[0].expires: 'next weekend' is not a date YYYY-MM-DD or an RFC 3339 time "
            "with an offset",
        ),
        (
            '  - namespace: a\n    expires: "2030-01-01T00:00:00"\n    reason: r\n',
            2,
            "exemptions[0].expires: '2030-01-01T00:00:00' is not a date YYYY-MM-DD or an RFC "
            "3339 time with an offset",
        ),
        (  # out of datetime's range once in UTC (was an internal OverflowError)
            '  - namespace: a\n    expires: "9999-12-31T23:59:59-23:59"\n    reason: r\n',
            2,
            "exemptions[0].expires: '9999-12-31T23:59:59-23:59' is not a date YYYY-MM-DD or an "
            "RFC 3339 time with an offset",
        ),
        ("  - namespace: a\n    expires: 2099-01-01\n", 1, "'reason' is a required property"),
        (
            "  - namespace: Not_A_Namespace\n    expires: 2099-01-01\n    reason: r\n",
            1,
            "does not match",
        ),
        (
            "  - namespace: a\n    expires: 2099-01-01\n    reason: r\n    labels: {x: y}\n",
            4,
            "unknown key 'labels' in exemptions[0]",
        ),
    ],
)
def test_policy_lint_rejects_malformed_exemptions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str, line: int, message: str
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_TEXT + "exemptions:\n" + entry)
    assert main(["policy", "lint", str(path)]) == 2
    _, err = capsys.readouterr()
    assert message in err and err.startswith(f"{path}:{POLICY_TEXT.count(chr(10)) + 1 + line}:")


def test_an_ipv6_registry_pattern_exempts_that_registry_only(tmp_path: Path) -> None:
    """The Gate applies ``[::1]:5000/lab/*`` to the IPv6 registry it names (no request made)."""
    policy = POLICY_TEXT + (
        'exemptions:\n  - image: "[::1]:5000/lab/*"\n    expires: 2099-01-01\n    reason: r\n'
    )

    async def run() -> ReviewOutcome:
        gate = make_gate(tmp_path / "cache", policy_text=policy)
        try:
            return await gate.review(
                docs.body(docs.pod_create(["[::1]:5000/lab/tool:1"])), mutate=True
            )
        finally:
            await gate.aclose()

    outcome = asyncio.run(run())
    assert outcome.decision is Decision.ALLOWED
    assert outcome.log["exemptions"][0]["image"] == "[::1]:5000/lab/tool:1"


def test_a_tag_exemption_does_not_cover_that_tag_with_any_digest(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    """``repo:1.0`` exempts what the tag names; ``repo:1.0@sha256:…`` runs the digest (any
    manifest of the repository), so it is verified (here it fails) rather than exempt."""
    repo = f"{real_registry.host}/lab/h-no-attest"
    policy = POLICY_TEXT + (
        f'exemptions:\n  - image: "{repo}:1.0"\n    expires: 2099-01-01\n    reason: r\n'
    )
    image = f"{repo}:1.0@{real_registry.root_digest('h-no-attest')}"

    async def run() -> ReviewOutcome:
        gate = make_gate(tmp_path / "cache", policy_text=policy)
        try:
            return await gate.review(docs.body(docs.pod_create([image])), mutate=False)
        finally:
            await gate.aclose()

    outcome = asyncio.run(run())
    assert outcome.decision is Decision.DENIED and outcome.log["exemptions"] == []
    assert "provenance" in outcome.log["images"][0]["rules_failed"]


def test_a_short_name_pattern_does_not_match_a_registry_host_of_that_name(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    """``localhost:*`` names Docker Hub's ``docker.io/library/localhost`` (any tag). Matched
    against the image as written it also exempted ``localhost:PORT/lab/…``, any image of the
    registry host ``localhost`` (as ``nginx:*`` did ``nginx:5000/…``): now it is verified."""
    policy = POLICY_TEXT + (
        'exemptions:\n  - image: "localhost:*"\n    expires: 2099-01-01\n    reason: r\n'
    )
    image = f"localhost:{real_registry.server.port}/lab/h-no-attest:1"

    async def run() -> tuple[ReviewOutcome, ReviewOutcome]:
        gate = make_gate(tmp_path / "cache", policy_text=policy)
        try:
            hub = docs.body(docs.pod_create(["localhost:1.2"]))
            return (
                await gate.review(docs.body(docs.pod_create([image])), mutate=False),
                await gate.review(hub, mutate=False),
            )
        finally:
            await gate.aclose()

    other_host, hub = asyncio.run(run())
    assert other_host.decision is Decision.DENIED and other_host.log["exemptions"] == []
    assert "provenance" in other_host.log["images"][0]["rules_failed"]
    assert hub.decision is Decision.ALLOWED and hub.log["exemptions"][0]["image"] == "localhost:1.2"

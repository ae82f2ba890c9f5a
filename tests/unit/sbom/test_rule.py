"""The ``sbom`` rule end to end on OCI layouts built for it (discovery, binding, evaluation)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from provcheck.api import inspect_image_async, verify_image
from provcheck.attestation.binding import Binding, BindingStatus
from provcheck.cli import main
from provcheck.discovery.options import DiscoveryOptions
from provcheck.policy import evaluate, parse_policy
from provcheck.predicates import PredicateKind
from provcheck.report import Report, Status
from tests.oci_builder import ImageBuilder, provenance_statement
from tests.unit.sbom.helpers import cyclonedx_document, sbom_statement, spdx_document

POLICY = """\
apiVersion: provcheck/v1
kind: Policy
rules:
  sbom:
{body}
"""
DENY = """\
    deny-packages:
      - "pkg:pypi/pyyaml@<5.4"
      - "pkg:npm/event-stream"
      - "pkg:deb/debian/xz-utils@>=5.6.0,<5.6.2"
      - "pkg:golang/golang.org/x/net@<0.17.0"
    deny-licenses: [AGPL-3.0-only, AGPL-3.0-or-later, SSPL-1.0]
"""


def _image(
    tmp_path: Path,
    documents: Sequence[Mapping[str, Any]] | None,
    *,
    platforms: Sequence[str] = ("linux/amd64",),
) -> str:
    builder = ImageBuilder("app")
    for platform in platforms:
        entry = builder.add_platform(platform)
        statements = [provenance_statement(entry.digest, platform=platform)]
        if documents is not None:
            statements += [
                sbom_statement(d, subject_digest=entry.digest, platform=platform) for d in documents
            ]
        builder.attest(entry, statements)
    path = builder.build().write_layout(tmp_path / "layout")
    return f"oci-layout://{path}:1"


def _verify(ref: str, body: str) -> Report:
    return verify_image(ref, parse_policy(POLICY.format(body=body)))


def _only(report: Report) -> Any:
    (result,) = [r for r in report.results if r.rule == "sbom"]
    return result


def test_required_passes_with_an_sbom_and_fails_without(tmp_path: Path) -> None:
    doc = spdx_document([{"name": "a", "version": "1", "license": "MIT"}])
    result = _only(_verify(_image(tmp_path / "a", [doc]), "    required: true"))
    assert result.status is Status.PASS
    assert "spdx SPDX-2.3 (1 components, bound to this platform)" in result.message
    assert result.evidence[0].source.endswith("#layers/1")
    result = _only(_verify(_image(tmp_path / "b", None), "    required: true"))
    assert result.status is Status.FAIL
    assert "no SBOM attestation" in result.message
    result = _only(_verify(_image(tmp_path / "b", None), "    required: false"))
    assert result.status is Status.SKIP


def test_every_platform_is_checked(tmp_path: Path) -> None:
    doc = spdx_document([{"name": "a"}])
    report = _verify(_image(tmp_path, [doc], platforms=("linux/amd64", "linux/arm64")), "")
    assert [(r.platform, r.status) for r in report.results] == [
        ("linux/amd64", Status.PASS),
        ("linux/arm64", Status.PASS),
    ]


def test_formats(tmp_path: Path) -> None:
    ref = _image(tmp_path, [cyclonedx_document([{"name": "a"}])])
    assert _only(_verify(ref, "    formats: [cyclonedx]")).status is Status.PASS
    result = _only(_verify(ref, "    formats: [spdx]"))
    assert result.status is Status.FAIL
    assert result.message == "only cyclonedx SBOMs found; the policy accepts spdx"


BAD_PACKAGES = [
    {"name": "PyYAML", "version": "5.3.1", "purl": "pkg:pypi/PyYAML@5.3.1", "license": "MIT"},
    {"name": "event-stream", "version": "3.3.6", "purl": "pkg:npm/event-stream@3.3.6"},
    {
        "name": "xz-utils",
        "version": "5.6.1-1",
        "purl": "pkg:deb/debian/xz-utils@5.6.1-1?arch=amd64",
    },
    {
        "name": "golang.org/x/net",
        "version": "v0.0.0-20191109021931-daa7c04131f5",
        "purl": "pkg:golang/golang.org/x/net@v0.0.0-20191109021931-daa7c04131f5",
    },
]
GOOD_PACKAGES = [
    {"name": "PyYAML", "version": "6.0.1", "purl": "pkg:pypi/pyyaml@6.0.1", "license": "MIT"},
    {"name": "left-pad", "version": "1.3.0", "purl": "pkg:npm/left-pad@1.3.0"},
    {"name": "xz-utils", "version": "5.6.2-1", "purl": "pkg:deb/debian/xz-utils@5.6.2-1"},
    {"name": "xz-utils", "version": "5.4.1-0.2", "purl": "pkg:deb/debian/xz-utils@5.4.1-0.2"},
    {"name": "net", "version": "v0.17.0", "purl": "pkg:golang/golang.org/x/net@v0.17.0"},
]


def test_denied_packages_in_four_ecosystems(tmp_path: Path) -> None:
    result = _only(_verify(_image(tmp_path / "bad", [spdx_document(BAD_PACKAGES)]), DENY))
    assert result.status is Status.FAIL
    assert result.message.startswith("denied package: 4 (4 components in 1 SBOM)")
    assert [e.pointer for e in result.evidence] == [f"/predicate/packages/{i}" for i in range(4)]
    assert result.evidence[0].value == "pkg:pypi/PyYAML@5.3.1"
    assert "pkg:pypi/pyyaml@<5.4" in (result.evidence[0].remediation or "")
    result = _only(_verify(_image(tmp_path / "good", [spdx_document(GOOD_PACKAGES)]), DENY))
    assert result.status is Status.PASS, result


def test_denied_package_in_a_nested_cyclonedx_component(tmp_path: Path) -> None:
    doc = cyclonedx_document(
        [{"name": "outer", "components": [{"name": "es", "purl": "pkg:npm/event-stream@3.3.4"}]}]
    )
    result = _only(_verify(_image(tmp_path, [doc]), DENY))
    assert result.status is Status.FAIL
    assert result.evidence[0].pointer == "/predicate/components/0/components/0"


def test_uncomparable_version_is_incomplete_not_a_pass(tmp_path: Path) -> None:
    doc = spdx_document([{"name": "PyYAML", "purl": "pkg:pypi/pyyaml@not%20a%20version"}])
    result = _only(_verify(_image(tmp_path, [doc]), DENY))
    assert result.status is Status.INCOMPLETE
    assert "package version not comparable" in result.message


def test_prereleases_of_maven_apk_and_gem_are_denied(tmp_path: Path) -> None:
    body = """\
    deny-packages:
      - "pkg:maven/org.apache.logging.log4j/log4j-core@<2.15.0"
      - "pkg:apk/alpine/openssl@<3.0.8-r0"
      - "pkg:gem/actionpack@<7.0.4"
"""
    packages = [
        {"name": "log4j", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.15.0-rc1"},
        {"name": "openssl", "purl": "pkg:apk/alpine/openssl@3.0.8_rc1-r0?arch=x86_64"},
        {"name": "actionpack", "purl": "pkg:gem/actionpack@7.0.4.rc1"},
        {"name": "fixed", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1"},
    ]
    result = _only(_verify(_image(tmp_path, [spdx_document(packages)]), body))
    assert result.status is Status.FAIL
    assert result.message.startswith("denied package: 3 (4 components in 1 SBOM)")
    assert [e.pointer for e in result.evidence] == [f"/predicate/packages/{i}" for i in range(3)]


def test_a_purl_with_slashes_after_the_scheme_is_still_denied(tmp_path: Path) -> None:
    packages = [
        {"name": "event-stream", "purl": "pkg://npm/event-stream@3.3.6"},
        {"name": "PyYAML", "purl": "pkg:/pypi/PyYAML@5.3.1"},
    ]
    result = _only(_verify(_image(tmp_path, [spdx_document(packages)]), DENY))
    assert result.status is Status.FAIL
    assert result.message.startswith("denied package: 2 ")
    assert result.evidence[0].value == "pkg://npm/event-stream@3.3.6"


def test_a_range_on_an_ecosystem_without_an_ordering_is_incomplete(tmp_path: Path) -> None:
    body = '    deny-packages: ["pkg:generic/openssl@<3.0.8"]'
    packages = [
        {"name": "openssl", "purl": "pkg:generic/openssl@3.0.7"},
        {"name": "zlib", "purl": "pkg:generic/zlib@1.3"},
    ]
    result = _only(_verify(_image(tmp_path, [spdx_document(packages)]), body))
    assert result.status is Status.INCOMPLETE
    assert "cannot compare versions (pkg:generic): 1 " in result.message
    assert "cannot compare versions of pkg:generic" in (result.evidence[0].remediation or "")
    # a pattern that denies the package outright wins over one that cannot decide
    body = '    deny-packages: ["pkg:generic/openssl@<3.0.8", "pkg:generic/openssl"]'
    result = _only(_verify(_image(tmp_path / "both", [spdx_document(packages)]), body))
    assert result.status is Status.FAIL
    assert result.message.startswith("denied package: 1 ")


def test_deprecated_license_ids_match_their_current_ids(tmp_path: Path) -> None:
    cdx = cyclonedx_document(
        [{"name": "jdk-lib", "licenses": [{"license": {"id": "GPL-2.0-with-classpath-exception"}}]}]
    )
    spdx = spdx_document([{"name": "old-lgpl", "license": "LGPL-2.1+"}])
    deny = "    deny-licenses: [GPL-2.0-only, LGPL-2.1-or-later]"
    result = _only(_verify(_image(tmp_path / "deny", [cdx, spdx]), deny))
    assert result.status is Status.FAIL
    assert result.message.startswith("denied license: 2 ")
    allow = '    allow-licenses: ["GPL-2.0-only WITH Classpath-exception-2.0", LGPL-2.1-or-later]'
    result = _only(_verify(_image(tmp_path / "allow", [cdx, spdx]), allow))
    assert result.status is Status.PASS, result


def test_license_rules(tmp_path: Path) -> None:
    doc = cyclonedx_document(
        [
            {"name": "ok", "licenses": [{"expression": "MIT OR AGPL-3.0-only"}]},
            {"name": "denied", "licenses": [{"expression": "MIT AND SSPL-1.0"}]},
            {"name": "unlisted", "licenses": [{"license": {"id": "ISC"}}]},
            {"name": "unknown"},
            {"name": "a-file", "type": "file"},
        ]
    )
    ref = _image(tmp_path, [doc])
    result = _only(_verify(ref, DENY))
    assert result.status is Status.FAIL
    assert [e.value for e in result.evidence] == ["denied: MIT AND SSPL-1.0"]
    allow = DENY + "    allow-licenses: [MIT, Apache-2.0]\n"
    result = _only(_verify(ref, allow))
    assert result.status is Status.FAIL
    assert [e.value for e in result.evidence] == [
        "denied: MIT AND SSPL-1.0",
        "unlisted: ISC",
        "unknown: no license",
    ]
    assert result.evidence[2].pointer == "/predicate/components/3"
    assert "no license information: 1" in result.message


def test_missing_licenses_under_allow_list_are_incomplete_naming_them(tmp_path: Path) -> None:
    doc = spdx_document(
        [
            {"name": "good", "license": "Apache-2.0"},
            {"name": "noassert", "license": "NOASSERTION"},
            {"name": "absent"},
        ]
    )
    result = _only(_verify(_image(tmp_path, [doc]), "    allow-licenses: [Apache-2.0]"))
    assert result.status is Status.INCOMPLETE
    assert [e.value for e in result.evidence] == ["noassert: no license", "absent: no license"]


def test_unreadable_sbom_is_an_error(tmp_path: Path) -> None:
    bad = {"spdxVersion": "SPDX-2.3", "packages": "oops"}
    good = spdx_document([{"name": "a"}])
    result = _only(_verify(_image(tmp_path, [good, bad]), DENY))
    assert result.status is Status.ERROR
    assert "/predicate/packages must be a list" in result.message
    assert result.evidence[0].source.endswith("#layers/2")


def test_an_unreadable_sbom_beside_a_denied_package_is_an_error_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 3 beats 1 inside the rule: one SBOM of the platform denies a package, the other cannot be
    # read; the result is an error (exit 3) whose message still names the denied package
    lodash = {"name": "lodash", "version": "4.17.20", "purl": "pkg:npm/lodash@4.17.20"}
    malformed = {**spdx_document([{"name": "a"}]), "spdxVersion": 7}
    ref = _image(tmp_path, [spdx_document([lodash]), malformed])
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(body='    deny-packages: ["pkg:npm/lodash@<4.17.21"]'))
    code = main(["verify", ref, "--policy", str(policy), "--format", "json"])
    (result,) = [r for r in json.loads(capsys.readouterr().out)["results"] if r["rule"] == "sbom"]
    assert code == 3
    assert result["status"] == "error"
    assert "unreadable SBOM" in result["message"] and "denied package: 1" in result["message"]
    assert "pkg:npm/lodash@4.17.20" in {e.get("value") for e in result["evidence"]}
    assert main(["verify", ref, "--policy", str(policy)]) == 3
    text = capsys.readouterr().out
    assert "verdict: ERROR" in text and "FAIL" not in text


def test_oversized_sbom_is_reported_not_passed(tmp_path: Path) -> None:
    big = spdx_document([{"name": f"p{i}", "license": "MIT"} for i in range(200)])
    ref = _image(tmp_path, [big])
    policy = parse_policy(POLICY.format(body="    required: true"))
    options = DiscoveryOptions(
        kinds=frozenset({PredicateKind.PROVENANCE, PredicateKind.SBOM}), max_layer_bytes=4096
    )
    found = asyncio.run(inspect_image_async(ref, options=options))
    result = _only(evaluate(found, policy))
    assert result.status is Status.ERROR  # an SBOM is there and cannot be read: not a violation
    assert "1 SBOM layer(s) not usable" in result.message
    assert "over the 4096-byte limit" in result.message


def test_malformed_policies() -> None:
    from provcheck.errors import PolicyError

    with pytest.raises(PolicyError, match=r"<policy>:6: purl pattern 'pkg:pypi/x@<banana'"):
        parse_policy(POLICY.format(body='    deny-packages:\n      - "pkg:pypi/x@<banana"'))
    with pytest.raises(PolicyError, match=r"<policy>:5: rules.sbom.deny-licenses"):
        parse_policy(POLICY.format(body="    deny-licenses: [MIT OR (]"))
    with pytest.raises(PolicyError, match="formats"):
        parse_policy(POLICY.format(body="    formats: [swid]"))
    empty = parse_policy(POLICY.format(body="    allow-licenses: []"))
    assert empty.rules["sbom"].licenses.allow is None  # type: ignore[union-attr]


def test_an_sbom_bound_to_the_index_covers_every_platform(tmp_path: Path) -> None:
    """In-index SBOMs cannot name their own index; cosign/referrer ones do. Simulate the binding
    discovery gives them: amd64's SBOM is index-bound, arm64 has none of its own."""
    doc = spdx_document([{"name": "a", "license": "MIT"}])
    builder = ImageBuilder("app")
    amd64, arm64 = builder.add_platform("linux/amd64"), builder.add_platform("linux/arm64")
    builder.attest(amd64, [sbom_statement(doc, subject_digest=amd64.digest)])
    builder.attest(arm64, [provenance_statement(arm64.digest, platform="linux/arm64")])
    path = builder.build().write_layout(tmp_path / "layout")
    options = DiscoveryOptions(kinds=frozenset({PredicateKind.PROVENANCE, PredicateKind.SBOM}))
    found = asyncio.run(inspect_image_async(f"oci-layout://{path}:1", options=options))
    policy = parse_policy(POLICY.format(body="    required: true"))
    before = evaluate(found, policy)
    assert [r.status for r in before.results] == [Status.PASS, Status.FAIL]

    image = found.images[0]
    manifest = image.attestations[0]
    layer = dataclasses.replace(manifest.layers[0], binding=Binding(BindingStatus.INDEX))
    manifest = dataclasses.replace(manifest, layers=(layer,))
    images = (dataclasses.replace(image, attestations=(manifest,)), found.images[1])
    after = evaluate(dataclasses.replace(found, images=images), policy)
    assert [(r.platform, r.status) for r in after.results] == [
        ("linux/amd64", Status.PASS),
        ("linux/arm64", Status.PASS),
    ]
    assert "bound to the index (covers every platform)" in after.results[1].message
    assert after.results[1].evidence[0].source == f"{manifest.descriptor.digest}#layers/0"

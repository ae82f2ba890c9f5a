"""Named contexts (``--build-context``) that replace the frontend or a base image, and empty
builder ids: variants of the real cases shaped as BuildKit writes them (issue 14.2, 14.3, 14.12).

BuildKit keeps ``context:NAME[::PLATFORM]`` args in both modes. The gateway loads the frontend
image ``args.source`` from ``context:<source>`` when there is one (``frontend/gateway/gateway.go``
calls ``dockerui.NamedContext(source)``), and runs ``source=dockerfile.v0`` as the built-in
frontend only without ``context:dockerfile.v0`` (``solver/llbsolver/solver.go``). What ran is
recorded as a material: ``pkg:docker/…`` for a ``docker-image://`` context (with a ``digest=``
qualifier when pinned), ``pkg:oci/<context name>…`` for an ``oci-layout://`` one; max mode also
records an ``oci-layout://<context name>@<digest>`` LLB source op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from provcheck.discovery.model import ImageAttestations
from provcheck.policy import evaluate, parse_policy
from provcheck.predicates.slsa import Arg, ContextKind, NamedContext
from provcheck.report import Report, Status
from tests.unit.policy.realdata import load_case
from tests.unit.policy.variants import with_predicates

NOW = datetime(2026, 12, 1, tzinfo=UTC)
HEAD = "apiVersion: provcheck/v1\nkind: Policy\nname: t\nrules:\n"
GOOD = "localhost:5000/docker/dockerfile:1.7"
GOOD_DIGEST = "sha256:dfd9c5a91b6d3bde97f702a74269b714b44514cc2e3b7141a415ffd65b84682d"
GOOD_PURL = "pkg:docker/localhost%3A5000/docker/dockerfile@1.7"
EVIL = "localhost:5000/evil/frontend:1"
EVIL_DIGEST = "sha256:027cd3b1cea7cbce943eacdf5b8dc9034972c043ae43597b5c49ab5dcf22c537"
EVIL_PURL = "pkg:docker/localhost%3A5000/evil/frontend@1"
LAYOUT_DIGEST = "sha256:" + "4" * 64
# v0.2 max mode with a base image, v1 max mode with a base image, v1 min mode FROM scratch
CASES = ("e1-syntax-tag", "f-slsa-v1", "n1-default")

Mutator = Callable[[dict[str, Any]], None]


def _request(p: dict[str, Any]) -> dict[str, Any]:
    if "invocation" in p:
        request: dict[str, Any] = p["invocation"]["parameters"]
    else:
        request = p["buildDefinition"]["externalParameters"]["request"]
    return request


def _materials(p: dict[str, Any]) -> list[dict[str, Any]]:
    if "invocation" in p:
        items: list[dict[str, Any]] = p.setdefault("materials", [])
    else:
        items = p["buildDefinition"].setdefault("resolvedDependencies", [])
    return items


def _llb(p: dict[str, Any]) -> list[dict[str, Any]] | None:
    config = p.get("buildConfig") or p.get("buildDefinition", {}).get("internalParameters", {}).get(
        "buildConfig"
    )
    return None if config is None else config["llbDefinition"]


def _material(uri: str, digest: str) -> dict[str, Any]:
    return {"digest": {"sha256": digest.split(":", 1)[1]}, "uri": uri}


def _pinned(purl: str, digest: str) -> str:
    return f"{purl}?digest={quote(digest, safe='')}"


def _frontend(
    source: str, contexts: dict[str, str], materials: Sequence[dict[str, Any]]
) -> Mutator:
    """`# syntax=<source>` (gateway.v0) plus named contexts; the frontend materials replaced."""

    def mutate(p: dict[str, Any]) -> None:
        request = _request(p)
        request["frontend"] = "gateway.v0"
        args = request.setdefault("args", {})
        args["source"] = args["cmdline"] = source
        args.update(contexts)
        request["args"] = dict(sorted(args.items()))
        p.get("buildDefinition", {}).get("internalParameters", {}).pop("dockerfileVersion", None)
        kept = [m for m in _materials(p) if "/docker/dockerfile" not in m["uri"]]
        _materials(p)[:] = [*materials, *kept]

    return mutate


def _evaluate(case: str, mutate: Mutator, rules: str) -> Report:
    image: ImageAttestations = with_predicates(load_case(case), mutate)
    return evaluate(image, parse_policy(HEAD + rules, "t.yaml"), now=NOW)


def _results(report: Report, rule: str) -> list[tuple[Status, str]]:
    return [(r.status, r.message) for r in report.results if r.rule == rule]


def _statuses(report: Report, rule: str) -> set[Status]:
    return {s for s, _ in _results(report, rule)}


def _frontend_rule(*allow: str, pinned: bool = False) -> str:
    entries = ", ".join(f'"{e}"' for e in ("dockerfile.v0", *allow))
    return f"  frontend:\n    allow: [{entries}]\n" + ("    pinned: true\n" if pinned else "")


# -- 14.2: the frontend swapped through a named context ----------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_pinned_frontend_swapped_by_a_named_context_fails(case: str) -> None:
    """`# syntax=<approved>@<digest>` with `--build-context <that name>=docker-image://evil`."""
    pinned = f"{GOOD}@{GOOD_DIGEST}"
    rules = _frontend_rule(pinned, pinned=True)
    honest = _frontend(
        pinned,
        {},
        [
            _material(GOOD_PURL, GOOD_DIGEST),
            _material(_pinned(GOOD_PURL, GOOD_DIGEST), GOOD_DIGEST),
        ],
    )
    assert _statuses(_evaluate(case, honest, rules), "frontend") == {Status.PASS}
    swapped = _frontend(
        pinned,
        {f"context:{pinned}": f"docker-image://{EVIL}@{EVIL_DIGEST}"},
        [_material(_pinned(EVIL_PURL, EVIL_DIGEST), EVIL_DIGEST)],
    )
    results = _results(_evaluate(case, swapped, rules), "frontend")
    assert results and all(s is Status.FAIL and "evil/frontend" in m for s, m in results), results


@pytest.mark.parametrize("case", CASES)
def test_unpinned_frontend_swapped_by_a_named_context_fails(case: str) -> None:
    swapped = _frontend(
        GOOD, {f"context:{GOOD}": f"docker-image://{EVIL}"}, [_material(EVIL_PURL, EVIL_DIGEST)]
    )
    report = _evaluate(case, swapped, _frontend_rule(f"{GOOD}*"))
    assert _statuses(report, "frontend") == {Status.FAIL}


@pytest.mark.parametrize("case", CASES)
def test_builtin_frontend_swapped_by_context_dockerfile_v0_fails(case: str) -> None:
    swapped = _frontend(
        "dockerfile.v0",
        {"context:dockerfile.v0": f"docker-image://{EVIL}"},
        [_material(EVIL_PURL, EVIL_DIGEST)],
    )
    report = _evaluate(case, swapped, _frontend_rule(f"{GOOD}*"))
    assert _statuses(report, "frontend") == {Status.FAIL}
    # without the named context, gateway.v0 + source=dockerfile.v0 is the built-in frontend
    builtin = _frontend("dockerfile.v0", {}, [])
    assert _statuses(_evaluate(case, builtin, _frontend_rule()), "frontend") == {Status.PASS}


@pytest.mark.parametrize("case", CASES)
def test_frontend_from_an_oci_layout_needs_an_oci_layout_entry(case: str) -> None:
    """`--build-context <approved name>=oci-layout://evil@<digest>`: a pkg:oci material named
    after the context, which a registry entry for that name must not approve."""
    swapped = _frontend(
        GOOD,
        {f"context:{GOOD}": f"oci-layout://evil@{EVIL_DIGEST}"},
        [
            _material(
                _pinned("pkg:oci/localhost%3A5000/docker/dockerfile@1.7", EVIL_DIGEST), EVIL_DIGEST
            )
        ],
    )
    assert _statuses(_evaluate(case, swapped, _frontend_rule(f"{GOOD}*")), "frontend") == {
        Status.FAIL
    }
    layout = _frontend_rule(f"oci-layout://{GOOD}@{EVIL_DIGEST}")
    assert _statuses(_evaluate(case, swapped, layout), "frontend") == {Status.PASS}
    other = _frontend_rule(f"oci-layout://{GOOD}@{GOOD_DIGEST}")
    assert _statuses(_evaluate(case, swapped, other), "frontend") == {Status.FAIL}


@pytest.mark.parametrize(
    "value", ["local:frontend-src", "input:frontend", "https://example.com/f.tar"]
)
def test_frontend_replaced_by_something_that_is_not_an_image_fails(value: str) -> None:
    swapped = _frontend(GOOD, {f"context:{GOOD}": value}, [_material(GOOD_PURL, GOOD_DIGEST)])
    results = _results(_evaluate("e1-syntax-tag", swapped, _frontend_rule(f"{GOOD}*")), "frontend")
    assert [s for s, _ in results] == [Status.FAIL]
    assert "named context" in results[0][1]


def test_pinned_digest_comes_from_the_materials_not_the_source_string() -> None:
    """`source` pinned to a digest that no material records: nothing says that this digest ran,
    so an entry pinned to it does not match (an unpinned entry leaves it incomplete)."""
    claimed = "sha256:" + "d" * 64
    mutate = _frontend(f"{GOOD}@{claimed}", {}, [_material(GOOD_PURL, GOOD_DIGEST)])
    report = _evaluate("e1-syntax-tag", mutate, _frontend_rule(f"{GOOD}@{claimed}"))
    assert _statuses(report, "frontend") == {Status.FAIL}
    report = _evaluate("e1-syntax-tag", mutate, _frontend_rule(f"{GOOD}*"))
    assert _statuses(report, "frontend") == {Status.INCOMPLETE}
    # a material asked for by that digest but recording another one: inconsistent, fail
    lying = _frontend(
        f"{GOOD}@{claimed}", {}, [_material(_pinned(GOOD_PURL, claimed), GOOD_DIGEST)]
    )
    report = _evaluate("e1-syntax-tag", lying, _frontend_rule(f"{GOOD}*"))
    assert _statuses(report, "frontend") == {Status.FAIL}


def test_approved_image_through_a_platform_named_context_passes() -> None:
    """`context:NAME::PLATFORM` applies on a builder of that platform only (linux/amd64 here)."""
    here = _frontend(
        "docker/dockerfile:1",
        {"context:docker/dockerfile:1::linux/amd64": f"docker-image://{GOOD}"},
        [_material(GOOD_PURL, GOOD_DIGEST)],
    )
    assert _statuses(_evaluate("e1-syntax-tag", here, _frontend_rule(f"{GOOD}*")), "frontend") == {
        Status.PASS
    }
    elsewhere = _frontend(
        GOOD,
        {f"context:{GOOD}::linux/arm64": f"docker-image://{EVIL}"},
        [_material(GOOD_PURL, GOOD_DIGEST)],
    )
    report = _evaluate("e1-syntax-tag", elsewhere, _frontend_rule(f"{GOOD}*"))
    assert _statuses(report, "frontend") == {Status.PASS}

    def unknown_builder(p: dict[str, Any]) -> None:
        elsewhere(p)
        del p["invocation"]["environment"]["platform"]

    report = _evaluate("e1-syntax-tag", unknown_builder, _frontend_rule(f"{GOOD}*"))
    assert _statuses(report, "frontend") == {Status.FAIL}


# -- 14.3: base images from a local OCI layout --------------------------------------------------


def _layout_base(name: str = "base", digest: str = LAYOUT_DIGEST) -> Mutator:
    """`FROM base` with `--build-context base=oci-layout://mylayout@<digest>`."""

    def mutate(p: dict[str, Any]) -> None:
        args = _request(p).setdefault("args", {})
        args[f"context:{name}"] = f"oci-layout://mylayout@{digest}"
        _request(p)["args"] = dict(sorted(args.items()))
        purl = f"pkg:oci/{name}?digest={quote(digest, safe='')}&platform=linux%2Famd64"
        _materials(p).append(_material(purl, digest))
        llb = _llb(p)
        if llb is not None:
            ident = f"oci-layout://docker.io/library/{name}@{digest}"
            op = {"source": {"identifier": ident, "attrs": {"oci.store": "mylayout"}}}
            llb.insert(
                0,
                {
                    "id": f"step{len(llb)}",
                    "op": {
                        "Op": op,
                        "constraints": {},
                        "platform": {"Architecture": "amd64", "OS": "linux"},
                    },
                },
            )

    return mutate


def _base_rule(*allow: str) -> str:
    return "  base-images:\n    allow: [" + ", ".join(f'"{e}"' for e in allow) + "]\n"


@pytest.mark.parametrize("case", CASES)
def test_base_image_from_an_oci_layout_is_not_a_registry_image(case: str) -> None:
    registry = _base_rule("docker.io/library/*", "localhost:5000/lab/base-busybox:*")
    results = _results(_evaluate(case, _layout_base(), registry), "base-images")
    assert results and all(
        s is Status.FAIL and "oci-layout://docker.io/library/base" in m for s, m in results
    ), results
    layout = _base_rule("localhost:5000/lab/base-busybox:*", f"oci-layout://base@{LAYOUT_DIGEST}")
    assert _statuses(_evaluate(case, _layout_base(), layout), "base-images") == {Status.PASS}
    wrong = _base_rule("localhost:5000/lab/base-busybox:*", f"oci-layout://base@{GOOD_DIGEST}")
    assert _statuses(_evaluate(case, _layout_base(), wrong), "base-images") == {Status.FAIL}


def test_an_oci_layout_entry_does_not_match_a_registry_image() -> None:
    report = _evaluate(
        "c-secrets-max", lambda p: None, _base_rule("oci-layout://localhost:5000/lab/base-busybox*")
    )
    assert _statuses(report, "base-images") == {Status.FAIL}


def test_an_oci_layout_image_named_like_the_sbom_generator_is_a_base_image() -> None:
    mutate = _layout_base("docker/buildkit-syft-scanner")
    report = _evaluate("n1-default", mutate, _base_rule("docker.io/*"))
    assert _statuses(report, "base-images") == {Status.FAIL}


# -- 14.12: empty builder ids -------------------------------------------------------------------


@pytest.mark.parametrize("case", ["b-multi-max", "f-slsa-v1", "n1-default"])
def test_empty_builder_id_fails_even_with_a_star(case: str) -> None:
    results = _results(_evaluate(case, lambda p: None, "  builder:\n    allow: ['*']\n"), "builder")
    assert results and all(
        s is Status.FAIL and m == "no builder id is recorded" for s, m in results
    ), results

    def named(p: dict[str, Any]) -> None:
        (p.get("runDetails") or p)["builder"]["id"] = "https://github.com/acme/app/actions/runs/1"

    report = _evaluate(case, named, "  builder:\n    allow: ['*']\n")
    assert _statuses(report, "builder") == {Status.PASS}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "context:docker/dockerfile:1::linux/arm64",
            "docker-image://evil/x:1",
            ("docker/dockerfile:1", "linux/arm64", ContextKind.DOCKER_IMAGE, "evil/x:1"),
        ),
        (
            "context:base",
            "oci-layout://mylayout@" + LAYOUT_DIGEST,
            ("base", None, ContextKind.OCI_LAYOUT, "mylayout@" + LAYOUT_DIGEST),
        ),
        ("context:src", "local:src", ("src", None, ContextKind.LOCAL, "src")),
        (
            "context:g",
            "git@github.com:o/r.git",
            ("g", None, ContextKind.GIT, "git@github.com:o/r.git"),
        ),
        ("context:i", "input:i", ("i", None, ContextKind.INPUT, "i")),
        ("context:x", "nonsense", ("x", None, None, "")),
    ],
)
def test_named_context_args_are_read_as_buildkit_splits_them(
    key: str, value: str, expected: tuple[str, str | None, ContextKind | None, str]
) -> None:
    context = NamedContext.from_arg(Arg(key, value, "/p"))
    assert context is not None
    assert (context.name, context.platform, context.kind, context.target) == expected
    assert NamedContext.from_arg(Arg("source", value, "/p")) is None

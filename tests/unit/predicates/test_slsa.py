from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provcheck.attestation.statement import Statement
from provcheck.errors import AttestationError
from provcheck.predicates import SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1
from provcheck.predicates.slsa import (
    ProvenanceV02,
    ProvenanceV1,
    parse_provenance,
    parse_provenance_predicate,
    pointer_join,
)
from provcheck.predicates.slsa_layout import SlsaField
from tests.paths import REAL_CASES, real_case
from tests.unit.policy.realdata import provenance_statements


def _pred(case: str, platform: str = "linux/amd64") -> Statement:
    return provenance_statements(case)[platform]


def _resolve(doc: Any, pointer: str) -> Any:
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        doc = doc[int(token)] if isinstance(doc, list) else doc[token]
    return doc


def test_v02_max_with_secrets() -> None:
    st_ = _pred("c-secrets-max")
    p = parse_provenance(st_)
    assert isinstance(p, ProvenanceV02) and p.version == "v0.2"
    assert p.build_type == "https://mobyproject.org/buildkit@v1"
    assert p.builder_id == ""
    assert p.frontend == "dockerfile.v0" and p.frontend_source is None
    assert set(p.build_args) == {
        "AWS_SECRET_ACCESS_KEY",
        "GH_TOKEN",
        "NODE_ENV",
        "NPM_TOKEN",
        "VERSION",
    }
    assert p.max_mode and p.args_complete is True and p.materials_complete is False
    assert p.locals == ("context", "dockerfile")
    assert p.invocation_id == "qtuo5fmm9jxhpv6ovigr804ma"
    assert p.finished_on is not None and p.finished_on.tzinfo is not None
    assert p.started_on is not None and p.started_on <= p.finished_on
    assert p.builder_platform == "linux/amd64"
    assert [e.name for e in p.llb_env][:3] == ["PATH", "VERSION", "NODE_ENV"]
    assert p.dockerfile is not None and "ARG GH_TOKEN" in p.dockerfile
    assert p.llb_image_sources[0].startswith("localhost:5000/lab/base-busybox:1@sha256:a23f8264")
    (m,) = p.materials
    assert m.image is not None and str(m.image) == "localhost:5000/lab/base-busybox:1"
    assert m.sha256 is not None and m.sha256.startswith("sha256:a23f8264")
    # every pointer resolves to the value it claims, in the statement document
    doc = {"predicate": st_.predicate}
    for arg in p.all_build_args():
        assert _resolve(doc, arg.pointer) == arg.value
    for env in p.llb_env:
        assert _resolve(doc, env.pointer) == f"{env.name}={env.value}"
    assert _resolve(doc, m.pointer)["uri"] == m.uri


def test_v02_min_mode_is_incomplete() -> None:
    p = parse_provenance(_pred("a-single-min"))
    assert not p.max_mode and p.args_complete is False
    assert p.build_args == {} and p.materials == () and p.dockerfile is None
    assert not p.hermetic and not p.reproducible


def test_v02_secret_mount_declares_ids() -> None:
    p = parse_provenance(_pred("d-secret-mount"))
    assert p.secrets == ("GH_TOKEN", "npmrc")
    assert p.build_args == {"VERSION": "1.4.2"}
    assert all(e.name != "GH_TOKEN" for e in p.llb_env)


def test_v02_syntax_frontend_and_material() -> None:
    p = parse_provenance(_pred("e1-syntax-tag"))
    assert p.frontend == "gateway.v0"
    assert p.frontend_source == "localhost:5000/docker/dockerfile:1.7"
    assert p.arg("cmdline") is not None
    fe = p.materials[0]
    assert fe.image is not None and fe.image.name == "localhost:5000/docker/dockerfile"
    assert fe.sha256 == "sha256:dfd9c5a91b6d3bde97f702a74269b714b44514cc2e3b7141a415ffd65b84682d"
    assert p.dockerfile is not None and p.dockerfile.startswith("# syntax=")


def test_v1_max() -> None:
    st_ = _pred("f-slsa-v1", "linux/arm64")
    assert st_.predicate_type == SLSA_PROVENANCE_V1 and st_.version == "v0.1"
    p = parse_provenance(st_)
    assert isinstance(p, ProvenanceV1) and p.version == "v1"
    assert p.build_args["GH_TOKEN"].startswith("ghp_")
    assert p.secrets == ("npmrc",)
    assert p.max_mode and p.args_complete is True
    assert p.materials[0].image is not None
    assert any(e.name == "GH_TOKEN" for e in p.llb_env)
    assert p.pointers["args"] == "/predicate/buildDefinition/externalParameters/request/args"


def test_v1_statement_v1_min() -> None:
    st_ = _pred("n1-default")
    assert st_.version == "v1"
    p = parse_provenance(st_)
    assert p.frontend == "dockerfile.v0" and p.args == () and p.nested_args == ()
    assert p.args_complete is False and not p.max_mode and p.materials == ()
    assert p.invocation_id == "rwihi3dpdor0hvig2ne3e2zvl"
    assert p.config_source.path == "Dockerfile"
    assert p.builder_platform == "linux/amd64"


def test_v1_root_request_args_are_seen() -> None:
    pred = copy.deepcopy(dict(_pred("f-slsa-v1").predicate))
    req = pred["buildDefinition"]["externalParameters"]["request"]
    req["root"] = {"request": {"args": {"build-arg:DB_PASSWORD": "x"}}}
    p = parse_provenance_predicate(pred, SLSA_PROVENANCE_V1)
    names = {a.build_arg_name for a in p.all_build_args()}
    assert "DB_PASSWORD" in names
    nested = next(a for a in p.nested_args if a.build_arg_name == "DB_PASSWORD")
    assert nested.pointer.endswith("/request/root/request/args/build-arg:DB_PASSWORD")


def test_unknown_fields_are_kept() -> None:
    pred = copy.deepcopy(dict(_pred("b-multi-max").predicate))
    pred["x-extension"] = {"a": 1}
    p = parse_provenance_predicate(pred, SLSA_PROVENANCE_V02)
    assert p.raw["x-extension"] == {"a": 1}


def test_github_actions_v1_parses() -> None:
    pred = {
        "buildDefinition": {
            "buildType": "https://actions.github.io/buildtypes/workflow/v1",
            "externalParameters": {
                "workflow": {
                    "ref": "refs/heads/main",
                    "repository": "https://github.com/acme/app",
                    "path": ".github/workflows/b.yml",
                }
            },
            "internalParameters": {"github": {"event_name": "push"}},
            "resolvedDependencies": [
                {
                    "uri": "git+https://github.com/acme/app@refs/heads/main",
                    "digest": {"gitCommit": "a" * 40},
                }
            ],
        },
        "runDetails": {
            "builder": {
                "id": "https://github.com/acme/app/.github/workflows/b.yml@refs/heads/main"
            },
            "metadata": {"invocationId": "https://github.com/acme/app/actions/runs/1/attempts/1"},
        },
    }
    p = parse_provenance_predicate(pred, SLSA_PROVENANCE_V1)
    assert p.builder_id.startswith("https://github.com/acme/")
    assert p.frontend is None and p.args == () and p.args_complete is None
    assert p.materials[0].image is None and not p.max_mode


@pytest.mark.parametrize(
    ("pred", "ptype", "needle"),
    [
        ([], SLSA_PROVENANCE_V02, "must be a JSON object"),
        ({"invocation": "x"}, SLSA_PROVENANCE_V02, "/predicate/invocation must be an object"),
        ({"materials": {}}, SLSA_PROVENANCE_V02, "/predicate/materials must be a list"),
        ({"materials": [1]}, SLSA_PROVENANCE_V02, "/predicate/materials/0 must be an object"),
        ({"invocation": {"parameters": {"args": {"a": []}}}}, SLSA_PROVENANCE_V02, "/args/a"),
        ({"metadata": {"buildFinishedOn": "yesterday"}}, SLSA_PROVENANCE_V02, "RFC 3339"),
        ({"metadata": {"completeness": {"parameters": "no"}}}, SLSA_PROVENANCE_V02, "boolean"),
        ({"runDetails": {"builder": {"id": 3}}}, SLSA_PROVENANCE_V1, "must be a string"),
        ({}, "https://example.com/other", "not a SLSA provenance"),
    ],
)
def test_malformed_predicates_raise_attestation_error(
    pred: object, ptype: str, needle: str
) -> None:
    with pytest.raises(AttestationError, match=None) as info:
        parse_provenance_predicate(pred, ptype)
    assert needle in info.value.diagnostics()


def test_pointer_escaping() -> None:
    assert pointer_join("/a", "b/c", "d~e", 3) == "/a/b~1c/d~0e/3"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)
_KEYS = [
    "invocation",
    "parameters",
    "args",
    "materials",
    "metadata",
    "buildConfig",
    "llbDefinition",
    "buildDefinition",
    "externalParameters",
    "request",
    "runDetails",
    "builder",
    "root",
    "inputs",
    "completeness",
    "op",
    "Op",
    "exec",
    "meta",
    "env",
    "uri",
    "digest",
    "source",
    "buildkit_metadata",
    "infos",
    "data",
    "https://mobyproject.org/buildkit@v1#metadata",
]


def _mutations(pred: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    def mutate(draw_value: Any, path: list[str]) -> dict[str, Any]:
        doc = copy.deepcopy(pred)
        node: Any = doc
        for key in path[:-1]:
            if isinstance(node, dict) and key in node:
                node = node[key]
            else:
                break
        if isinstance(node, dict):
            node[path[-1]] = draw_value
        return doc

    return st.builds(mutate, _json, st.lists(st.sampled_from(_KEYS), min_size=1, max_size=5))


_REAL_V02 = dict(
    json.loads((real_case("c-secrets-max") / "inspect.provenance.json").read_text())["SLSA"]
)
_REAL_V1 = dict(
    json.loads((real_case("f-slsa-v1") / "inspect.provenance.json").read_text())["linux/amd64"][
        "SLSA"
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(_json, _mutations(_REAL_V02), _mutations(_REAL_V1)),
    st.sampled_from([SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1]),
)
def test_hostile_predicates_never_escape(pred: Any, ptype: str) -> None:
    try:
        p = parse_provenance_predicate(pred, ptype)
    except AttestationError:
        return
    list(p.all_build_args())
    for m in p.materials:
        _ = m.image, m.sha256, m.purl_type
    assert p.finished_on is None or p.finished_on.tzinfo is not None
    assert isinstance(p.build_args, dict)
    assert isinstance(p.labels, dict)
    _ = datetime.now(UTC)


# -- every pointer names a field where the version keeps it (formats.md §6.1-6.3) ---------------

_BK02 = "https://mobyproject.org/buildkit@v1#metadata"
_V02_P = ("invocation", "parameters")
_V02_CS = ("invocation", "configSource")
_V1_REQ = ("buildDefinition", "externalParameters", "request")
_V1_CS = ("buildDefinition", "externalParameters", "configSource")
_V1_INT = ("buildDefinition", "internalParameters")
_V1_META = ("runDetails", "metadata")
# key of Provenance.pointers -> (documented paths below /predicate: BuildKit's spelling first,
# a wrong JSON type for the field or None when the parser reads it leniently), transcribed from
# formats.md, not from the parser.
_DOCUMENTED: dict[str, dict[str, tuple[tuple[tuple[str, ...], ...], object]]] = {
    "v0.2": {
        "build-type": ((("buildType",),), 7),
        "builder": ((("builder", "id"),), 7),
        "request": ((_V02_P,), "x"),
        "frontend": (((*_V02_P, "frontend"),), 7),
        "args": (((*_V02_P, "args"),), "x"),
        "source": (((*_V02_P, "args", "source"),), []),
        "secrets": (((*_V02_P, "secrets"),), "x"),
        "ssh": (((*_V02_P, "ssh"),), "x"),
        "locals": (((*_V02_P, "locals"),), "x"),
        "config-uri": (((*_V02_CS, "uri"),), 7),
        "config-digest": (((*_V02_CS, "digest"),), "x"),
        "config-path": (((*_V02_CS, "entryPoint"),), 7),
        "builder-platform": ((("invocation", "environment", "platform"),), None),
        "materials": ((("materials",),), "x"),
        "invocation-id": (
            (("metadata", "buildInvocationID"), ("metadata", "buildInvocationId")),
            7,
        ),
        "started": ((("metadata", "buildStartedOn"),), 7),
        "finished": ((("metadata", "buildFinishedOn"),), 7),
        "completeness": ((("metadata", "completeness", "parameters"),), "no"),
        "materials-completeness": ((("metadata", "completeness", "materials"),), "no"),
        "hermetic": ((("metadata", "https://mobyproject.org/buildkit@v1#hermetic"),), None),
        "reproducible": ((("metadata", "reproducible"),), None),
        "buildkit-metadata": ((("metadata", _BK02),), "x"),
        "vcs": ((("metadata", _BK02, "vcs"),), None),
        "dockerfile": ((("metadata", _BK02, "source"),), 7),
        "layers": ((("metadata", _BK02, "layers"),), None),
        "build-config": ((("buildConfig",),), "x"),
        "llb-definition": ((("buildConfig", "llbDefinition"),), "x"),
    },
    "v1": {
        "build-type": ((("buildDefinition", "buildType"),), 7),
        "builder": ((("runDetails", "builder", "id"),), 7),
        "request": ((_V1_REQ,), "x"),
        "frontend": (((*_V1_REQ, "frontend"),), 7),
        "args": (((*_V1_REQ, "args"),), "x"),
        "source": (((*_V1_REQ, "args", "source"),), []),
        "secrets": (((*_V1_REQ, "secrets"),), "x"),
        "ssh": (((*_V1_REQ, "ssh"),), "x"),
        "locals": (((*_V1_REQ, "locals"),), "x"),
        "config-uri": (((*_V1_CS, "uri"),), 7),
        "config-digest": (((*_V1_CS, "digest"),), "x"),
        "config-path": (((*_V1_CS, "path"),), 7),
        "builder-platform": (((*_V1_INT, "builderPlatform"),), None),
        "materials": ((("buildDefinition", "resolvedDependencies"),), "x"),
        "invocation-id": (((*_V1_META, "invocationId"), (*_V1_META, "invocationID")), 7),
        "started": (((*_V1_META, "startedOn"),), 7),
        "finished": (((*_V1_META, "finishedOn"),), 7),
        "completeness": (((*_V1_META, "buildkit_completeness", "request"),), "no"),
        "materials-completeness": (
            ((*_V1_META, "buildkit_completeness", "resolvedDependencies"),),
            "no",
        ),
        "hermetic": (((*_V1_META, "buildkit_hermetic"),), None),
        "reproducible": (((*_V1_META, "buildkit_reproducible"),), None),
        "buildkit-metadata": (((*_V1_META, "buildkit_metadata"),), "x"),
        "vcs": (((*_V1_META, "buildkit_metadata", "vcs"),), None),
        "dockerfile": (((*_V1_META, "buildkit_metadata", "source"),), 7),
        "layers": (((*_V1_META, "buildkit_metadata", "layers"),), None),
        "build-config": (((*_V1_INT, "buildConfig"),), "x"),
        "llb-definition": (((*_V1_INT, "buildConfig", "llbDefinition"),), "x"),
    },
}
_MISSING = object()


def _lookup(doc: Any, pointer: str) -> Any:
    """RFC 6901 resolution; ``_MISSING`` when the pointer names nothing in ``doc``."""
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list) and token.isdigit() and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            return _MISSING
    return doc


def _with(pred: Any, path: tuple[str, ...], value: object) -> Any:
    doc = copy.deepcopy(pred)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


@pytest.mark.parametrize("case", [c for c in REAL_CASES if c != "h-no-attest"])
def test_every_pointer_names_a_field_where_the_version_keeps_it(case: str) -> None:
    checked = 0
    for statement in provenance_statements(case).values():
        doc = {"predicate": statement.predicate}
        p = parse_provenance(statement)
        documented = _DOCUMENTED[p.version]
        # evidence pointers: each concept's pointer is its documented path (the spelling that
        # holds the value, for a field with two), and it resolves unless the value is absent
        assert set(p.pointers) <= set(documented)
        for key, pointer in p.pointers.items():
            paths = [pointer_join("/predicate", *path) for path in documented[key][0]]
            assert pointer in paths, (case, key, pointer)
            held = [q for q in paths if _lookup(doc, q) is not _MISSING]
            assert pointer == (held[0] if held else paths[0]), (case, key, pointer)
        items: list[tuple[str, str | None]] = [
            (a.pointer, a.value) for a in (*p.args, *p.nested_args)
        ]
        items += [(m.pointer, None) for m in p.materials]
        items += [(e.pointer, f"{e.name}={e.value}") for e in p.llb_env]
        for pointer, value in items:
            assert _lookup(doc, pointer) is not _MISSING, (case, pointer)
            assert value is None or str(_lookup(doc, pointer)) == value
        # rejection pointers: a field of the wrong type is named where the statement holds it
        for key, (paths_, wrong) in documented.items():
            present = [
                q for q in paths_ if _lookup(doc, pointer_join("/predicate", *q)) is not _MISSING
            ]
            if wrong is None or not present:
                continue
            checked += 1
            bad = _with(statement.predicate, present[0], wrong)
            with pytest.raises(AttestationError) as info:
                parse_provenance_predicate(bad, statement.predicate_type)
            pointer = pointer_join("/predicate", *present[0])
            assert f"provenance field {pointer} " in info.value.diagnostics(), (case, key)
    assert checked >= 12  # the statements of every case hold a dozen strictly read fields


def test_pointers_name_every_field_of_both_versions() -> None:
    for case in ("b-multi-max", "f-slsa-v1"):
        p = parse_provenance(_pred(case))
        assert set(p.pointers) == set(_DOCUMENTED[p.version]) == set(SlsaField)

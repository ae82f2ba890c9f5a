"""Helpers of the admission tests: a recording observer, a Gate on a disk cache, the response's
patch decoded and applied (a small RFC 6902 applier for the ``replace`` operations a gate
emits, independent of the code under test)."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from provcheck.admission import Gate, NullObserver
from provcheck.cache import Cache, open_cache
from provcheck.policy import parse_policy
from provcheck.source.registry import RegistryOptions

POLICY_TEXT = """\
apiVersion: provcheck/v1
kind: Policy
name: acceptance
rules:
  provenance:
    required: true
  platforms:
    required: [linux/amd64]
  frontend:
    allow: [dockerfile.v0, "localhost:5000/docker/dockerfile:1.7"]
  build-args:
    secrets: deny
"""
"""The acceptance policy of tests/integration/test_verify_cli.py (its EXPECTED verdicts)."""

PASSING = ("b-multi-max", "d-secret-mount", "e1-syntax-tag", "g-sbom-generator", "i-cosign")
FAILING = {
    "c-secrets-max": "build-args",
    "e3-syntax-evil": "frontend",
    "h-no-attest": "provenance",
    "a-single-min": "build-args",
}
"""Each failing case and a rule it fails (a-single-min: build-args incomplete, min mode)."""


@dataclass
class Recorder(NullObserver):
    """Every hook call, in order."""

    requests: list[tuple[str, bool]] = field(default_factory=list)
    lookups: list[bool] = field(default_factory=list)
    overruns: int = 0
    exemptions: list[str] = field(default_factory=list)

    def registry_request(self, host: str, failed: bool) -> None:
        self.requests.append((host, failed))

    def cache_lookup(self, hit: bool) -> None:
        self.lookups.append(hit)

    def budget_exceeded(self) -> None:
        self.overruns += 1

    def exemption_used(self, exemption: str) -> None:
        self.exemptions.append(exemption)


def make_gate(
    cache_dir: Path | Cache,
    *,
    policy_text: str = POLICY_TEXT,
    observer: Recorder | None = None,
    registry: RegistryOptions | None = None,
    clock: Callable[[], datetime] | None = None,
    **kwargs: Any,
) -> Gate:
    """A Gate with ``policy_text`` and a disk cache in ``cache_dir`` (made private, 0700), or
    the cache given."""
    if isinstance(cache_dir, Path):
        cache_dir.parent.mkdir(parents=True, exist_ok=True)
        cache: Cache = open_cache(str(cache_dir))
    else:
        cache = cache_dir
    document = policy_text.encode()
    extra: dict[str, Any] = dict(kwargs)
    if clock is not None:
        extra["clock"] = clock
    return Gate(
        parse_policy(document, "policy.yaml"),
        document,
        cache,
        registry=registry or RegistryOptions(),
        observer=observer,
        **extra,
    )


def patch_of(response: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The decoded JSONPatch of an AdmissionReview response, or ``None`` without one."""
    inner = response["response"]
    if "patch" not in inner:
        assert "patchType" not in inner
        return None
    assert inner["patchType"] == "JSONPatch"
    ops: list[dict[str, Any]] = json.loads(base64.b64decode(inner["patch"], validate=True))
    return ops


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def apply_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """``doc`` with the RFC 6902 ``replace`` operations ``ops`` applied (the target must exist,
    as RFC 6902 §4.3 requires)."""
    out = copy.deepcopy(doc)
    for op in ops:
        assert op["op"] == "replace", op
        tokens = [_unescape(t) for t in op["path"].split("/")[1:]]
        node = out
        for token in tokens[:-1]:
            node = node[int(token)] if isinstance(node, list) else node[token]
        last = tokens[-1]
        if isinstance(node, list):
            assert 0 <= int(last) < len(node)
            node[int(last)] = op["value"]
        else:
            assert last in node
            node[last] = op["value"]
    return out

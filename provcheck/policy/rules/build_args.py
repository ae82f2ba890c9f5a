"""``build-args``: no secret was passed as a build argument.

Looks at names and values in provenance args (top level, ``root``, ``inputs``), the LLB ``env``
of max-mode provenance, and the image config's ``Env`` and ``history`` build-arg records
(``ARG NAME=value``, ``ENV NAME=value``, ``RUN |N NAME=value … cmd``, read as
:mod:`provcheck.policy.history` says), which leak whatever the provenance mode.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from provcheck._internal.secrets import looks_like_secret
from provcheck.policy.history import DeclaredArgs, dockerfile_arg_names, history_records
from provcheck.policy.model import BuildArgsOptions, RuleOptions
from provcheck.policy.rules.base import (
    EvaluationContext,
    PlatformContext,
    provenance_error,
    with_provenance_error,
)
from provcheck.report.causes import Cause
from provcheck.report.model import Evidence, RuleResult, Status

NAME = "build-args"
REMEDIATION: Final = (
    "pass it as a build secret (RUN --mount=type=secret,id=NAME; "
    "docker buildx build --secret id=NAME,env=NAME), not --build-arg, and rotate it"
)


def _config_env(config: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(pointer, name, value) of the config's Env."""
    inner = config.get("config")
    env = inner.get("Env") if isinstance(inner, dict) else None
    if isinstance(env, list):
        for i, entry in enumerate(env):
            if isinstance(entry, str):
                name, _, value = entry.partition("=")
                yield f"/config/Env/{i}", name, value


def _declared(pc: PlatformContext) -> DeclaredArgs:
    """The Dockerfile's ``ARG`` names and the build-arg values the provenance records."""
    instructions: list[tuple[str, ...]] = []
    values: dict[str, str] = {}
    for rec in pc.provenance:
        if rec.provenance.dockerfile is not None:
            instructions.extend(dockerfile_arg_names(rec.provenance.dockerfile))
        values.update(rec.provenance.build_args)
    return DeclaredArgs(tuple(instructions), values)


def _findings(
    pc: PlatformContext, opts: BuildArgsOptions
) -> tuple[list[str], list[Evidence], str | None]:
    """Secret names and their evidence, and why part of the history was not read (if it was
    not)."""
    names: list[str] = []
    evidence: list[Evidence] = []

    def consider(source: str, pointer: str, name: str, value: str) -> bool:
        if name in opts.allow_names or looks_like_secret(name, value) is None:
            return False
        names.append(name)
        evidence.append(Evidence.secret(source, pointer, name, value, REMEDIATION))
        return True

    for rec in pc.provenance:
        for arg in rec.provenance.all_build_args():
            assert arg.build_arg_name is not None
            consider(rec.source, arg.pointer, arg.build_arg_name, arg.value)
        for env in rec.provenance.llb_env:
            consider(rec.source, env.pointer, env.name, env.value)
    config = pc.image.config
    unread = None
    if config is not None:
        for pointer, name, value in _config_env(config):
            consider(pc.config_source, pointer, name, value)
        reading = history_records(config, _declared(pc))
        unread = reading.unread
        for record in reading.records:
            pointer = f"/history/{record.index}/created_by"
            found = [consider(pc.config_source, pointer, n, v) for n, v in record.args]
            if not any(found):
                for n, v in record.other:
                    consider(pc.config_source, pointer, n, v)
    return names, evidence, unread


def _one(pc: PlatformContext, opts: BuildArgsOptions) -> RuleResult:
    names, evidence, unread = _findings(pc, opts)
    if names:
        unique = sorted(set(names))
        message = f"{len(unique)} secret(s) passed as build arguments or environment: "
        found = RuleResult(NAME, Status.FAIL, pc.key, message + ", ".join(unique), tuple(evidence))
        return with_provenance_error(pc, found)
    error = provenance_error(NAME, pc)
    if error is not None:
        return error
    if unread is not None:
        return RuleResult(
            NAME,
            Status.INCOMPLETE,
            pc.key,
            f"no secret found in what was read, but {unread}",
            (Evidence(pc.config_source, "/history"),),
        )
    if not pc.provenance:
        return RuleResult(
            NAME,
            Status.INCOMPLETE,
            pc.key,
            "no provenance: the build arguments are unknown (the image config shows no secret)",
            (
                Evidence(
                    str(pc.image.descriptor.digest), "", None, "build with --provenance=mode=max"
                ),
            ),
        )
    if pc.image.config is None:
        return RuleResult(
            NAME,
            Status.INCOMPLETE,
            pc.key,
            "the image config (Env, history) was not available",
            (Evidence(pc.config_source, ""),),
        )
    stripped = [r for r in pc.provenance if r.provenance.args_complete is not True]
    if stripped:
        rec = stripped[0]
        value = rec.provenance.args_complete
        return RuleResult(
            NAME,
            Status.INCOMPLETE,
            pc.key,
            "no secret found, but the provenance does not record all build arguments "
            "(min mode stripped them), so it cannot prove there are none",
            (
                Evidence(
                    rec.source,
                    rec.provenance.pointers["completeness"],
                    "false" if value is False else "not recorded",
                    "build with --provenance=mode=max to record build arguments",
                ),
            ),
            cause=Cause.MIN_MODE,
        )
    return RuleResult(
        NAME,
        Status.PASS,
        pc.key,
        "no secret in build arguments",
        tuple(Evidence(r.source, r.provenance.pointers["args"]) for r in pc.provenance),
    )


class BuildArgsRule:
    """One result per platform."""

    name = NAME

    def check(self, ctx: EvaluationContext, options: RuleOptions) -> list[RuleResult]:
        """See the module docstring."""
        assert isinstance(options, BuildArgsOptions)
        return [_one(pc, options) for pc in ctx.platforms]

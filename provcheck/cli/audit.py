"""``provcheck audit``: verify many images against a policy; ``audit merge``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from provcheck.cli.common import (
    ExitCode,
    add_attestations_repo,
    add_cache_options,
    add_evidence_options,
    add_verbose,
    attestations_repository_of,
    open_cli_cache,
    platforms_of,
    positive,
    read_cli_policy,
    replacing,
    seconds,
    verdict_exit_of,
)
from provcheck.errors import UsageError

if TYPE_CHECKING:
    from collections import Counter

    from provcheck.report import Report, Verdict


AUDIT_FORMATS = ("text", "jsonl", "csv", "markdown", "html", "sarif", "junit")


def add(commands: Any) -> None:
    """``provcheck audit`` (and ``provcheck audit merge SHARD.jsonl ...``)."""
    audit: argparse.ArgumentParser = commands.add_parser(
        "audit",
        help="verify many images against a policy",
        usage="%(prog)s --policy FILE [REF ...] [--from FILE|-] [options]\n"
        "       %(prog)s merge SHARD.jsonl ... [--format FORMAT] [--output FILE]",
        description="Verify many images against one policy: one result per input reference,\n"
        "in input order (copies of one image are verified once). Inputs: references, or\n"
        "--from a file (or -) of references, one a line, or Kubernetes YAML (the images of\n"
        "its workloads). `audit merge` joins the JSONL outputs of shards. The exit code is\n"
        "3 if any image is error, else 1 if any fails, else 0.",
    )
    audit.add_argument("references", nargs="*", metavar="REF", help="image references")
    audit.add_argument("--policy", type=Path, help="policy file (YAML; not with merge)")
    audit.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="read references from FILE (- for stdin): a list or Kubernetes YAML",
    )
    audit.add_argument(
        "--format", choices=AUDIT_FORMATS, default="text", help="report format (default text)"
    )
    audit.add_argument(
        "--output", type=Path, metavar="FILE", help="write the report here, replaced atomically"
    )
    audit.add_argument(
        "--jobs",
        type=positive,
        default=16,  # provcheck.audit.run.DEFAULT_JOBS, not imported: it loads asyncio
        metavar="N",
        help="images verified at once (default 16)",
    )
    audit.add_argument(
        "--timeout",
        type=seconds,
        default=60.0,  # provcheck.audit.run.DEFAULT_IMAGE_TIMEOUT
        metavar="SECONDS",
        help="network time per image (default 60)",
    )
    audit.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress on stderr (a bar on a terminal, else a line now and then), no totals",
    )
    audit.add_argument(
        "--since",
        type=Path,
        metavar="PREVIOUS.jsonl",
        help="add what changed since a previous JSONL audit (text, markdown, html)",
    )
    audit.add_argument(
        "--shard",
        metavar="K/N",
        help="audit only the inputs of shard K of N (K from 0): sha256 of the reference as "
        "given, first 8 bytes big-endian, modulo N",
    )
    audit.add_argument(
        "--key",
        action="append",
        default=[],
        type=Path,
        metavar="PEM",
        help="trust signatures by this public key (as verify --key)",
    )
    audit.add_argument(
        "--trusted-root", type=Path, metavar="FILE", help="sigstore trusted root (as verify)"
    )
    audit.add_argument(
        "--insecure-registry", action="append", default=[], metavar="HOST", help="plain HTTP"
    )
    audit.add_argument("--ca-file", type=Path, help="PEM bundle of CAs to trust for TLS")
    add_attestations_repo(audit)
    audit.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="OS/ARCH[/VARIANT]",
        help="evaluate only this platform of each image (repeatable)",
    )
    add_evidence_options(audit, "one pack per image under DIR, named sha256-<hex> by digest")
    add_cache_options(audit, default=None)
    add_verbose(audit, "verbose_audit")
    audit.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    """Results are written as they come: to stdout, or to a file that replaces ``--output``
    when the run ends (a run that stops on an error leaves the old one)."""
    with ExitStack() as stack:
        handle = sys.stdout if args.output is None else stack.enter_context(replacing(args.output))
        tally = _audit_to(args, handle)
    if not args.quiet and (args.output is not None or args.format != "text"):
        from provcheck.audit.render import totals_line

        print(f"provcheck: {totals_line(tally)}", file=sys.stderr)
    from provcheck.audit.run import worst

    return verdict_exit_of(worst(tally))


def _audit_to(args: argparse.Namespace, handle: TextIO) -> Counter[Verdict]:
    from collections import Counter

    from provcheck.audit.progress import Progress, progress
    from provcheck.audit.render import SINCE_FORMATS, AuditFormat, writer

    fmt = AuditFormat(args.format)
    since = None
    if args.since is not None:
        from provcheck.audit.since import Diff, read_previous

        if fmt not in SINCE_FORMATS:
            names = ", ".join(sorted(SINCE_FORMATS))
            raise UsageError(f"audit: --since needs --format {names}")
        since = Diff(read_previous(args.since), str(args.since))
    out = writer(fmt, since)
    tally: Counter[Verdict] = Counter()
    shared = handle.isatty()  # the output on the terminal of the bar: flushed between
    shown: Progress | None = None

    def start(total: int | None) -> None:
        nonlocal shown
        handle.write(out.header())
        shown = progress(total, sys.stderr, quiet=args.quiet, shared=shared)

    def sink(report: Report, index: int | None) -> None:
        def emit() -> None:
            handle.write(out.part(report, index))
            if shared:
                handle.flush()

        tally[report.verdict] += 1
        assert shown is not None, "start() comes first"
        shown.show(report, emit)

    try:
        if args.references[:1] == ["merge"]:
            _merge(args, start, sink)
        else:
            _audit_run(args, start, sink)
    finally:
        if shown is not None:
            shown.close()
    handle.write(out.footer(tally))
    return tally


Sink = Callable[["Report", int | None], None]
"""Takes each report with its input's position in the audit (``None``: not known)."""


def _merge(args: argparse.Namespace, start: Callable[[int | None], object], sink: Sink) -> None:
    from provcheck.audit.merge import read_shards

    given = [
        name
        for name, value in (
            ("--policy", args.policy),
            ("--from", args.from_file),
            ("--shard", args.shard),
            ("--key", args.key),
            ("--trusted-root", args.trusted_root),
            ("--cache", args.cache),
            ("--at", args.at),
            ("--evidence", args.evidence),
            ("--attestations-repo", args.attestations_repo),
        )
        if value
    ]
    if given:
        raise UsageError(f"audit merge: {', '.join(given)} cannot be used with merge")
    if len(args.references) < 2:
        raise UsageError("audit merge: name at least one SHARD.jsonl")
    records = read_shards([Path(name) for name in args.references[1:]])
    first = next(records, None)  # a bad first line is named before anything is written
    start(None)
    if first is not None:
        sink(first.report, first.index)
    for record in records:
        sink(record.report, record.index)


def _audit_run(args: argparse.Namespace, start: Callable[[int | None], object], sink: Sink) -> None:
    from functools import partial

    from provcheck.audit.inputs import check_references, read_inputs
    from provcheck.audit.run import REQUESTS_PER_HOST, STORE_WINDOW, AuditOptions, run_audit
    from provcheck.audit.shard import Shard
    from provcheck.source.registry import RegistryOptions

    if args.policy is None:
        raise UsageError("audit: the following arguments are required: --policy")
    shard = Shard.parse(args.shard) if args.shard is not None else None
    references = check_references(args.references)
    if args.from_file is not None:
        references += read_inputs(args.from_file)
    if not references:
        raise UsageError("audit: give references or --from FILE")
    # The exact bytes parsed: they are part of every cached verdict's key.
    raw, policy = read_cli_policy(args)
    # the position of each input in the whole input (every shard's records carry it)
    positions = [i for i, ref in enumerate(references) if shard is None or shard.holds(ref)]
    references = [references[i] for i in positions]
    registry = RegistryOptions(
        insecure_registries=frozenset(args.insecure_registry),
        ca_file=args.ca_file,
        max_requests_per_host=REQUESTS_PER_HOST,
        store_window=STORE_WINDOW,
    )
    evidence = None
    if args.evidence is not None:
        from provcheck._internal.clock import evaluation_time
        from provcheck.audit.run import AuditEvidence
        from provcheck.evidence.pack import PackInputs

        at = evaluation_time(args.at)
        evidence = AuditEvidence(args.evidence, PackInputs(policy, raw, str(args.policy), at))
    options = AuditOptions(
        jobs=args.jobs,
        timeout=args.timeout,
        platforms=platforms_of(args),
        now=args.at,
        evidence=evidence,
        attestations_repository=attestations_repository_of(args),
    )
    cache = None if args.cache == "none" else partial(open_cli_cache, args)
    start(len(references))
    emitted = iter(positions)  # run_audit hands over one report per input, in input order
    run_audit(
        references,
        policy,
        lambda report: sink(report, next(emitted)),
        registry=registry,
        options=options,
        cache=cache,
        policy_document=raw,
    )

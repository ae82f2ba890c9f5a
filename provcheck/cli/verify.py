"""``provcheck verify``: verify an image against a policy."""

from __future__ import annotations

import argparse
import sys
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provcheck.cli.common import (
    ExitCode,
    add_cache_options,
    add_evidence_options,
    add_source_options,
    add_verbose,
    attestations_repository_of,
    error_message,
    open_cli_cache,
    platforms_of,
    read_cli_policy,
    registry_options,
    summary_line,
    verdict_exit,
    with_cli_trust,
    write_output,
)
from provcheck.errors import UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from provcheck.evidence.record import Recording
    from provcheck.policy import Policy
    from provcheck.report import Report


REPORT_FORMATS = ("text", "json", "sarif", "junit")
VSA_FORMAT = "vsa"


def add(commands: Any) -> None:
    """Add the command to ``commands``."""
    verify = commands.add_parser(
        "verify",
        help="verify an image against a policy",
        description="Verify an image against a policy.",
    )
    verify.add_argument("--policy", required=True, type=Path, help="policy file (YAML)")
    verify.add_argument(
        "--format",
        choices=(*REPORT_FORMATS, VSA_FORMAT),
        default="text",
        help="report format (default text); vsa: a SLSA verification summary (in-toto statement)",
    )
    verify.add_argument(
        "--sign-key",
        type=Path,
        metavar="PEM",
        help="with --format vsa: sign the summary (a DSSE envelope) with this PEM private key "
        "(ECDSA P-256, Ed25519 or RSA; an encrypted key's password in "
        "$PROVCHECK_SIGN_KEY_PASSWORD)",
    )
    verify.add_argument(
        "--attach",
        action="store_true",
        help="with --format vsa --sign-key: add the signed summary to the image's cosign "
        "attestations (its sha256-<hex>.att tag)",
    )
    verify.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="write the report here instead of stdout, replaced on every run (an error run "
        "writes a report with verdict error); the verdict line goes to stderr",
    )
    verify.add_argument(
        "--key",
        action="append",
        default=[],
        type=Path,
        metavar="PEM",
        help="trust signatures by this public key (repeatable; adds `signatures: required`)",
    )
    verify.add_argument(
        "--trusted-root",
        type=Path,
        metavar="FILE",
        help="sigstore trusted root for keyless verification (never fetched over the network)",
    )
    add_source_options(verify)
    add_evidence_options(verify, "DIR (replaced if it is a pack)")
    add_cache_options(verify, default="none")
    add_verbose(verify, "verbose_verify")
    verify.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    from provcheck.report import Report, ReportFormat, render

    if args.format == VSA_FORMAT:
        from provcheck.cli.vsa import run_vsa

        return run_vsa(args)
    if args.sign_key is not None or args.attach:
        raise UsageError("--sign-key and --attach go with --format vsa")
    fmt = ReportFormat(args.format)
    # a report other than the text on stdout: the verdict line also goes to stderr
    separate = args.output is not None or fmt is not ReportFormat.TEXT
    try:
        report = _evaluate(args)
    except (Exception, KeyboardInterrupt) as exc:
        # Every run leaves a report in the chosen format, an error run too (a CI job must
        # never read a stale one). On stdout, text stays the one error line on stderr.
        if separate:
            message = error_message(exc)
            error = Report.from_error(message, reference=args.reference, policy=str(args.policy))
            write_output(render(error, fmt), args.output)
        raise
    write_output(render(report, fmt), args.output)
    if separate:
        where = f": report written to {args.output}" if args.output is not None else ""
        print(f"provcheck: {summary_line(report)}{where}", file=sys.stderr)
    return verdict_exit(report)


def _evaluate(args: argparse.Namespace) -> Report:
    if args.evidence is not None:
        return _evaluate_recorded(args)
    if args.cache != "none" and args.at is None:
        # Cached verdicts are verdicts as of now: with --at the cache is not used.
        return _evaluate_cached(args)
    from provcheck.policy import load_policy

    return _verify_live(args, with_cli_trust(args, load_policy(args.policy)), args.at)


def _verify_live(
    args: argparse.Namespace,
    policy: Policy,
    now: datetime | None,
    record: Recording | None = None,
) -> Report:
    """``verify_image`` with the command line's reference, source options and ``now``."""
    from provcheck.api import verify_image

    return verify_image(
        args.reference,
        policy,
        registry=registry_options(args),
        platforms=platforms_of(args),
        max_layer_bytes=args.max_attestation_size,
        timeout=args.timeout,
        now=now,
        record=record,
        attestations_repository=attestations_repository_of(args),
    )


def _evaluate_recorded(args: argparse.Namespace) -> Report:
    """``verify --evidence DIR``: the verification recorded, then written as a pack."""
    from provcheck._internal.clock import evaluation_time
    from provcheck.errors import ProvcheckError
    from provcheck.evidence.pack import PackInputs, check_target, save_pack
    from provcheck.evidence.record import Recording

    if args.cache != "none":
        raise UsageError("--evidence records what is read: use it with --cache none")
    check_target(args.evidence)
    raw, policy = read_cli_policy(args)
    moment = evaluation_time(args.at)
    recording = Recording()
    inputs = PackInputs(policy, raw, str(args.policy), moment)
    try:
        report = _verify_live(args, policy, moment, recording)
    except ProvcheckError as exc:
        # No earlier pack may stand for this run: the pack of an error is what was read
        # before it, with the error report.
        from provcheck.report import Report

        error = Report.from_error(
            error_message(exc), reference=args.reference, policy=str(args.policy)
        )
        with suppress(ProvcheckError):  # the run's own error is what to report
            save_pack(args.evidence, recording, error, inputs)
        raise
    save_pack(args.evidence, recording, report, inputs)
    return report


def _evaluate_cached(args: argparse.Namespace) -> Report:
    """``verify --cache``: the policy file read once (its bytes are part of the verdict key)."""
    import asyncio

    from provcheck.cache.verify import verify_cached

    raw, policy = read_cli_policy(args)
    registry = registry_options(args)
    elsewhere = attestations_repository_of(args)

    async def run() -> Report:
        cache = open_cli_cache(args)
        try:
            report: Report = await verify_cached(
                args.reference,
                policy,
                raw,
                cache,
                registry=registry,
                timeout=args.timeout,
                platforms=platforms_of(args),
                max_layer_bytes=args.max_attestation_size,
                attestations_repository=elsewhere,
            )
        finally:
            await cache.aclose()
        return report

    return asyncio.run(run())

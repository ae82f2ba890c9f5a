"""``provcheck verify REF --policy FILE --format vsa [--sign-key KEY.pem] [--attach]``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from provcheck.cli.common import (
    ExitCode,
    attestations_repository_of,
    registry_options,
    remove_stale,
    summary_line,
    verdict_exit,
    write_output,
)
from provcheck.errors import UsageError


def _refuse_mismatches(args: argparse.Namespace) -> None:
    """Options that would make the summary claim something other than what it names."""
    if args.key or args.trusted_root:
        raise UsageError(
            "--format vsa names the policy by the digest of its file: put the keys and trusted "
            "root in the policy's signatures rule instead of --key/--trusted-root"
        )
    if args.platform:
        raise UsageError("--format vsa summarises the whole image: --platform cannot narrow it")
    if args.cache != "none":
        raise UsageError("--format vsa verifies afresh: use --cache none")
    if args.at is not None:
        raise UsageError(
            "--format vsa records when the verification ran (timeVerified): --at would sign a "
            "back-dated claim; replay with --at in another format"
        )
    if args.evidence is not None:
        raise UsageError("--format vsa does not write an evidence pack: run verify --evidence")


def run_vsa(args: argparse.Namespace) -> ExitCode:
    """Verify, write the summary (signed with ``--sign-key``), attach it with ``--attach``;
    the exit code follows the verdict. A run that cannot verify writes no summary (and removes
    an earlier ``--output``)."""
    try:
        _refuse_mismatches(args)
        from provcheck.policy.loader import read_policy
        from provcheck.vsa.run import summarise_async

        key = None
        if args.sign_key is not None:
            from provcheck.attestation.signing import load_signing_key

            key = load_signing_key(args.sign_key, os.environ)
        raw, policy = read_policy(args.policy)
        summary = asyncio.run(
            summarise_async(
                args.reference,
                policy,
                str(args.policy),
                raw,
                registry=registry_options(args),
                sign_key=key,
                attach=args.attach,
                attestations_repository=attestations_repository_of(args),
                timeout=args.timeout,
                max_layer_bytes=args.max_attestation_size,
            )
        )
    except (Exception, KeyboardInterrupt):
        if args.output is not None:
            remove_stale(args.output)
        raise
    write_output(summary.document.decode("utf-8") + "\n", args.output)
    where = f": summary written to {args.output}" if args.output is not None else ""
    print(f"provcheck: {summary_line(summary.report)}{where}", file=sys.stderr)
    if summary.attached is not None:
        from provcheck.discovery.stores.found import StoreTag, store_tag

        tag = store_tag(summary.found.digest, StoreTag.ATTESTATIONS)
        print(
            f"provcheck: attached to {summary.found.source}:{tag} ({summary.attached.digest})",
            file=sys.stderr,
        )
    return verdict_exit(summary.report)

"""``provcheck explain``: what evidence an image has, where it was found, what is missing, why."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from provcheck.cli.common import (
    ExitCode,
    add_source_options,
    add_verbose,
    attestations_repository_of,
    platforms_of,
    registry_options,
    write_output,
)

EXPLAIN_FORMATS = ("text", "json")


def add(commands: Any) -> None:
    """Add the command to ``commands``."""
    explain = commands.add_parser(
        "explain",
        help="say what evidence an image has, where it was found, and why any is missing",
        description="For each platform: the attestations found and where (the index, cosign tags,\n"
        "the referrers API or its fallback tag, the attestations repository), what is missing\n"
        "and why, as a cause code with a sentence and the fix. Not a verdict: exit 0 whatever\n"
        "is missing, 3 when something could not be read (the explanation is still printed).",
    )
    explain.add_argument(
        "--policy",
        type=Path,
        metavar="FILE",
        help="policy file: its min-trust adds below-trust, its signatures rule's keys decide trust",
    )
    explain.add_argument(
        "--format",
        choices=EXPLAIN_FORMATS,
        default="text",
        help="text, or json (schema provcheck.explain/v1)",
    )
    add_source_options(explain)
    add_verbose(explain, "verbose_explain")
    explain.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    from dataclasses import replace

    from provcheck.api import inspect_image
    from provcheck.explain import explain_image, explain_options, policy_trust
    from provcheck.explain.render import explanation_to_dict, render_explanation

    policy = None
    if args.policy is not None:
        from provcheck.policy import load_policy

        policy = load_policy(args.policy)
    trust = policy_trust(policy) if policy is not None else None
    options = explain_options(trust, attestations_repository=attestations_repository_of(args))
    if args.max_attestation_size is not None:
        options = replace(options, max_layer_bytes=args.max_attestation_size)
    found = inspect_image(
        args.reference, options=options, registry=registry_options(args), timeout=args.timeout
    )
    explanation = explain_image(found, policy=policy, platforms=platforms_of(args))
    if args.format == "json":
        import json

        from provcheck.report.escape import escape_surrogates

        document = explanation_to_dict(explanation)
        text = escape_surrogates(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
    else:
        text = render_explanation(explanation)
    write_output(text, None)
    return ExitCode.ERROR if explanation.unreadable else ExitCode.PASS

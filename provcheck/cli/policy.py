"""``provcheck policy lint``: validate a policy file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from provcheck.cli.common import ExitCode, Parser, add_verbose


def add(commands: Any) -> None:
    """Add the command (and its subcommand ``lint``) to ``commands``."""
    policy = commands.add_parser(
        "policy", help="work with policy files", description="Work with policy files."
    )
    policy_commands = policy.add_subparsers(
        dest="policy_command",
        required=True,
        parser_class=Parser,
        metavar="COMMAND",
        help="provcheck policy COMMAND --help shows its options",
    )
    lint = policy_commands.add_parser(
        "lint", help="validate a policy file", description="Validate a policy file."
    )
    lint.add_argument("file", type=Path, help="policy file (YAML)")
    add_verbose(policy, "verbose_policy")
    add_verbose(lint, "verbose_lint")
    lint.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    from provcheck.policy import lint_policy

    messages = lint_policy(args.file)
    for message in messages:
        print(message, file=sys.stderr)
    if messages:
        return ExitCode.USAGE
    for warning in _expired_exemptions(args.file):
        print(warning, file=sys.stderr)
    print(f"{args.file}: ok")
    return ExitCode.PASS


def _expired_exemptions(path: Path) -> list[str]:
    """A warning line for each exemption of the (valid) policy at ``path`` that has expired."""
    from datetime import UTC, datetime

    from provcheck.policy import load_policy
    from provcheck.policy.exemptions import expired
    from provcheck.report.escape import escape_text

    policy = load_policy(path)
    return [
        f"{path}:{e.line}: warning: exemption {escape_text(e.label)} expired on "
        f"{e.expires.isoformat()}: it no longer applies"
        for e in expired(policy.exemptions, datetime.now(UTC))
    ]

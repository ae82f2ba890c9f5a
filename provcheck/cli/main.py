"""The parser of every command, and running one."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from provcheck.cli.common import Command, ExitCode, Parser, add_verbose, check_values, error_message
from provcheck.errors import PolicyError, ProvcheckError, UsageError

if TYPE_CHECKING:
    pass

from provcheck import __version__
from provcheck.cli import audit, cache, explain, inspect, policy, sbom, serve, verify

COMMANDS: tuple[Command, ...] = (inspect, verify, explain, sbom, policy, audit, cache, serve)
"""The commands, in the order ``--help`` lists them."""


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="provcheck",
        description="Verify the supply-chain attestations of container images.",
    )
    parser.add_argument("--version", action="version", version=f"provcheck {__version__}")
    add_verbose(parser, "verbose")
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        parser_class=Parser,
        metavar="COMMAND",
        help="provcheck COMMAND --help shows its options",
    )
    for command in COMMANDS:
        command.add(commands)
    return parser


def _verbosity(args: argparse.Namespace) -> int:
    """``-v`` counted before and after the command."""
    return sum(v for k, v in vars(args).items() if k.startswith("verbose") and v)


def _stdout_closed() -> None:
    """The reader of stdout went away (``| head -1``): point stdout at /dev/null, so that
    the interpreter's last flush does not complain either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (captured or already closed)
        pass


def _run(args: argparse.Namespace) -> int:
    """Run the command; every failure becomes one line on stderr and an exit code."""
    verbose = _verbosity(args)
    try:
        run: Callable[[argparse.Namespace], ExitCode] = args.run
        code = run(args)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        print("provcheck: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        _stdout_closed()
        return ExitCode.STDOUT_CLOSED
    except ProvcheckError as exc:
        if verbose >= 2:
            traceback.print_exc(file=sys.stderr)
        print(f"provcheck: error: {error_message(exc)}", file=sys.stderr)
        usage = isinstance(exc, UsageError | PolicyError)
        return ExitCode.USAGE if usage else ExitCode.ERROR
    except Exception as exc:  # a bug: fail closed, with one line (the traceback with -vv)
        if verbose >= 2:
            traceback.print_exc(file=sys.stderr)
        print(f"provcheck: error: {error_message(exc)}", file=sys.stderr)
        return ExitCode.ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = _parser()
    arguments = sys.argv[1:] if argv is None else list(argv)
    if not arguments:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        args = parser.parse_args(arguments)
        check_values(parser, args)
    except SystemExit as exit_:  # --help, --version (0) and usage errors (2)
        return exit_.code if isinstance(exit_.code, int) else ExitCode.USAGE
    levels = {0: logging.WARNING, 1: logging.INFO}
    logging.basicConfig(
        level=levels.get(_verbosity(args), logging.DEBUG),
        format="provcheck: %(levelname)s: %(message)s",
    )
    # httpx and httpcore log whole URLs (presigned redirects carry credentials in the query):
    # only provcheck's own records, which leave the query out, are shown.
    for noisy in ("httpx", "httpcore", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return _run(args)


def entrypoint() -> NoReturn:
    """The console script: ``sys.exit(main())``."""
    try:
        code = main()
    except KeyboardInterrupt:  # between two statements of main, outside _run
        print("provcheck: interrupted", file=sys.stderr)
        code = ExitCode.INTERRUPTED
    sys.exit(code)

"""The ``provcheck`` command line: argument parsing, output, exit codes. Nothing else.

Exit codes (:data:`EXIT_CODES`): 0 pass, 1 policy violation, 2 usage, policy or input-file
error, 3 fetch or verification error (3 beats 1), 130 interrupted, 141 stdout closed by its
reader. Every error is one line on stderr, an unexpected one too (exit 3, fail closed); ``-vv``
adds the traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import stat
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from provcheck import __version__
from provcheck.errors import PolicyError, PolicyMistakesError, ProvcheckError, UsageError

if TYPE_CHECKING:
    from collections import Counter

    from provcheck.attestation.keys import PublicKey
    from provcheck.attestation.signatures import TrustConfig
    from provcheck.cache import Cache
    from provcheck.discovery.model import ImageAttestations
    from provcheck.discovery.options import DiscoveryOptions
    from provcheck.policy import Policy
    from provcheck.report import Report, Verdict
    from provcheck.source.registry import RegistryOptions


INSPECT_FORMATS = ("text", "json", "provenance", "sbom")
REPORT_FORMATS = ("text", "json", "sarif", "junit")
SBOM_FORMATS = ("json", "csv", "cyclonedx", "spdx")


class ExitCode(IntEnum):
    """The process exit codes, a contract with admission gates and CI."""

    PASS = 0
    VIOLATION = 1
    USAGE = 2
    ERROR = 3
    INTERRUPTED = 130
    STDOUT_CLOSED = 141


EXIT_CODES = """\
exit codes:
  0    pass (verify: every rule passed; inspect, sbom: all evidence was read)
  1    policy violation (verify)
  2    usage error: bad arguments, reference, --platform, policy file or input file
  3    fetch or verification error: registry unreachable, content that does not match its
       digest, evidence too large, missing, malformed or bound to another image, an
       internal error; 3 beats 1
  130  interrupted (Ctrl-C)
  141  stdout closed by its reader (`| head`): 128 + SIGPIPE, as a shell reports it
"""


class _Parser(argparse.ArgumentParser):
    """argparse with exit code 2, one-line errors and the exit-code table in every help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        kwargs.setdefault("epilog", EXIT_CODES)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def _check_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse ``--option=--``, which Python 3.11's argparse stores as an empty list instead of
    a value (without calling the option's type), in ``parser`` and the subcommands ``args``
    chose. Exits with a usage error (2)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = getattr(args, action.dest, None)
            if chosen in action.choices:
                _check_values(action.choices[chosen], args)
            continue
        if not action.option_strings or action.nargs is not None:
            continue
        value = getattr(args, action.dest, None)
        values = value if isinstance(action, argparse._AppendAction) else [value]
        if isinstance(values, list) and any(v == [] for v in values):
            parser.error(f"argument {'/'.join(action.option_strings)}: expected a value, not '--'")


def _size(text: str) -> int:
    """A byte count with an optional KiB/MiB/GiB suffix."""
    units = {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "": 1}
    lowered = text.strip().lower()
    number = lowered.rstrip("kmgib")
    try:
        value = int(number) * units[lowered[len(number) :]]
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(f"invalid size {text!r} (e.g. 64MiB)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: must be positive")
    return value


def _seconds(text: str) -> float:
    """The type of ``--timeout``: the library's own check (:func:`check_timeout`) on the
    number ``text`` (``nan``, ``inf``, ``0`` and ``-1`` are refused)."""
    from provcheck._internal.timeout import check_timeout

    try:
        seconds: object = float(text)
    except ValueError:
        seconds = text  # not a number: check_timeout says so
    try:
        return check_timeout(seconds)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(exc.diagnostics()) from None


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    """The image to read and how to reach it: shared by inspect, verify and sbom."""
    parser.add_argument("reference", help="IMAGE[:TAG][@DIGEST] or oci-layout://PATH[:TAG]")
    group = parser.add_argument_group("registry access")
    group.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="speak plain HTTP to this registry (loopback hosts get HTTPS first, then plain "
        "HTTP if they do not speak TLS)",
    )
    group.add_argument(
        "--ca-file",
        type=Path,
        help="PEM bundle of CAs to trust for TLS (HTTPS only, also on loopback)",
    )
    group.add_argument(
        "--timeout",
        type=_seconds,
        default=60.0,  # provcheck.source.deadline.DEFAULT_TIMEOUT, not imported: it loads asyncio
        metavar="SECONDS",
        help="time for all of the command's network work: connections, requests, retries and "
        "their waits (default 60)",
    )
    parser.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="OS/ARCH[/VARIANT]",
        help="show and evaluate only this platform (repeatable); the platforms rule still "
        "reads the whole index",
    )
    parser.add_argument(
        "--max-attestation-size",
        type=_size,
        default=None,
        metavar="SIZE",
        help="refuse attestation layers larger than this (default 64MiB)",
    )


_VERBOSE_HELP = "-v: retries; -vv: every request, tracebacks (before or after the command)"


def _add_verbose(parser: argparse.ArgumentParser, dest: str) -> None:
    """``-v`` for the main parser and again for each command: the counts add up."""
    parser.add_argument("-v", "--verbose", action="count", default=0, dest=dest, help=_VERBOSE_HELP)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="provcheck",
        description="Verify the supply-chain attestations of container images.",
    )
    parser.add_argument("--version", action="version", version=f"provcheck {__version__}")
    _add_verbose(parser, "verbose")
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        parser_class=_Parser,
        metavar="COMMAND",
        help="provcheck COMMAND --help shows its options",
    )

    inspect = commands.add_parser(
        "inspect",
        help="show the attestations of an image",
        description="Show the attestations of an image. --format provenance and sbom print "
        "what `docker buildx imagetools inspect --format '{{json .Provenance}}'` "
        "(or .SBOM) prints, from verified and bound statements only.",
    )
    inspect.add_argument(
        "--format",
        choices=INSPECT_FORMATS,
        default="text",
        help="text, json (provcheck's document), provenance or sbom (buildx's documents)",
    )
    inspect.add_argument(
        "--show-secrets",
        action="store_true",
        help="--format provenance: print buildx's document byte for byte, secret build-arg "
        "values included (by default they are redacted)",
    )
    inspect.add_argument(
        "--key",
        action="append",
        default=[],
        type=Path,
        metavar="PEM",
        help="verify signatures found in cosign tags and referrers with this public key",
    )
    _add_source_options(inspect)

    verify = commands.add_parser(
        "verify",
        help="verify an image against a policy",
        description="Verify an image against a policy.",
    )
    verify.add_argument("--policy", required=True, type=Path, help="policy file (YAML)")
    verify.add_argument(
        "--format", choices=REPORT_FORMATS, default="text", help="report format (default text)"
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
    _add_source_options(verify)
    _add_cache_options(verify, default="none")

    sbom = commands.add_parser(
        "sbom",
        help="export the SBOMs of an image",
        description="Export the components of every SBOM bound to the image (in the index, "
        "in cosign attestations, in OCI referrers), or the original document.",
    )
    sbom.add_argument(
        "--format",
        choices=SBOM_FORMATS,
        default="json",
        help="json or csv (components of every SBOM), cyclonedx or spdx (the original "
        "document of one SBOM: pick a platform with --platform)",
    )
    sbom.add_argument(
        "--output", type=Path, metavar="FILE", help="write the export here instead of stdout"
    )
    _add_source_options(sbom)

    policy = commands.add_parser(
        "policy", help="work with policy files", description="Work with policy files."
    )
    policy_commands = policy.add_subparsers(
        dest="policy_command",
        required=True,
        parser_class=_Parser,
        metavar="COMMAND",
        help="provcheck policy COMMAND --help shows its options",
    )
    lint = policy_commands.add_parser(
        "lint", help="validate a policy file", description="Validate a policy file."
    )
    lint.add_argument("file", type=Path, help="policy file (YAML)")
    audit = _add_audit(commands)
    _add_cache_commands(commands)
    for command in (inspect, verify, sbom, policy, lint, audit):
        _add_verbose(command, f"verbose_{command.prog.rsplit(' ', 1)[-1]}")
    return parser


AUDIT_FORMATS = ("text", "jsonl", "csv", "markdown", "html", "sarif", "junit")


def _add_audit(commands: Any) -> argparse.ArgumentParser:
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
        type=_positive,
        default=16,  # provcheck.audit.run.DEFAULT_JOBS, not imported: it loads asyncio
        metavar="N",
        help="images verified at once (default 16)",
    )
    audit.add_argument(
        "--timeout",
        type=_seconds,
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
    audit.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="OS/ARCH[/VARIANT]",
        help="evaluate only this platform of each image (repeatable)",
    )
    _add_cache_options(audit, default=None)
    return audit


def _positive(text: str) -> int:
    """An integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}: must be at least 1")
    return value


def _audit(args: argparse.Namespace) -> ExitCode:
    """Results are written as they come: to stdout, or to a file that replaces ``--output``
    when the run ends (a run that stops on an error leaves the old one)."""
    with ExitStack() as stack:
        handle = sys.stdout if args.output is None else stack.enter_context(_replacing(args.output))
        tally = _audit_to(args, handle)
    if not args.quiet and (args.output is not None or args.format != "text"):
        from provcheck.audit.render import totals_line

        print(f"provcheck: {totals_line(tally)}", file=sys.stderr)
    from provcheck.audit.run import worst

    return _verdict_exit_of(worst(tally))


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

    def sink(report: Report) -> None:
        def emit() -> None:
            handle.write(out.part(report))
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


def _verdict_exit_of(verdict: Verdict) -> ExitCode:
    """The exit code of a verdict: of one report, or the worst of an audit's."""
    from provcheck.report import Verdict

    if verdict is Verdict.PASS:
        return ExitCode.PASS
    return ExitCode.VIOLATION if verdict is Verdict.FAIL else ExitCode.ERROR


def _merge(
    args: argparse.Namespace, start: Callable[[int | None], object], sink: Callable[[Report], None]
) -> None:
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
        )
        if value
    ]
    if given:
        raise UsageError(f"audit merge: {', '.join(given)} cannot be used with merge")
    if len(args.references) < 2:
        raise UsageError("audit merge: name at least one SHARD.jsonl")
    reports = read_shards([Path(name) for name in args.references[1:]])
    first = next(reports, None)  # a bad first line is named before anything is written
    start(None)
    if first is not None:
        sink(first)
    for report in reports:
        sink(report)


def _audit_run(
    args: argparse.Namespace, start: Callable[[int | None], object], sink: Callable[[Report], None]
) -> None:
    from functools import partial

    from provcheck._internal.files import read_capped
    from provcheck.audit.inputs import check_references, read_inputs
    from provcheck.audit.run import REQUESTS_PER_HOST, AuditOptions, run_audit
    from provcheck.audit.shard import Shard
    from provcheck.policy.loader import MAX_POLICY_BYTES, parse_policy
    from provcheck.policy.resolver import FileResolver
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
    raw = read_capped(args.policy, MAX_POLICY_BYTES, "policy file", PolicyError)
    policy = parse_policy(raw, str(args.policy), resolver=FileResolver(args.policy.parent))
    if args.key or args.trusted_root:
        from provcheck.attestation.keys import load_public_key
        from provcheck.attestation.tlog import load_trusted_root
        from provcheck.policy.rules.signatures import with_trust

        keys = [load_public_key(path) for path in args.key]
        root = load_trusted_root(args.trusted_root) if args.trusted_root else None
        policy = with_trust(policy, keys, root)
    if shard is not None:
        references = shard.select(references)
    registry = RegistryOptions(
        insecure_registries=frozenset(args.insecure_registry),
        ca_file=args.ca_file,
        max_requests_per_host=REQUESTS_PER_HOST,
    )
    options = AuditOptions(jobs=args.jobs, timeout=args.timeout, platforms=_platforms(args))
    cache = None if args.cache == "none" else partial(_open_cache, args)
    start(len(references))
    run_audit(
        references,
        policy,
        sink,
        registry=registry,
        options=options,
        cache=cache,
        policy_document=raw,
    )


def _check_local(reference: str) -> None:
    """Raise a :class:`UsageError` with a hint when ``reference`` names a local folder that
    looks like an OCI layout (it has ``oci-layout`` or ``index.json``, or holds an
    ``oci-layout/`` folder) without ``oci-layout://``, or holds one where it names the layout
    (rather than ask DNS about it, or fail on its contents)."""
    from provcheck.oci.reference import LAYOUT_SCHEME, LayoutReference

    scheme = reference.startswith(LAYOUT_SCHEME)
    try:
        path = LayoutReference.parse(reference if scheme else LAYOUT_SCHEME + reference).path
    except UsageError:
        return
    try:
        if not path.is_dir():
            return
        holds_layout = (path / "oci-layout").is_dir()
        layout_like = (path / "oci-layout").is_file() or (path / "index.json").is_file()
    except OSError:  # a name too long for a path: not a folder
        return
    if holds_layout:
        raise UsageError(
            f"{path} is not an OCI layout but holds one: did you mean "
            f"{LAYOUT_SCHEME}{path / 'oci-layout'}?"
        )
    if not scheme and layout_like:  # any other folder leaves a registry reference alone
        raise UsageError(
            f"{reference!r} is a local folder, not a registry reference: did you mean "
            f"{LAYOUT_SCHEME}{reference}?"
        )


def _registry_options(args: argparse.Namespace) -> RegistryOptions | None:
    """Registry settings, or ``None`` for a layout (which then never imports the HTTP stack)."""
    from provcheck.oci.reference import LAYOUT_SCHEME

    _check_local(args.reference)
    if args.reference.startswith(LAYOUT_SCHEME):
        return None
    from provcheck.source.registry import RegistryOptions

    return RegistryOptions(
        insecure_registries=frozenset(args.insecure_registry), ca_file=args.ca_file
    )


def _platforms(args: argparse.Namespace) -> frozenset[str]:
    from provcheck.oci.platform import Platform

    return frozenset(Platform.parse(p).key for p in args.platform)


def _write(text: str, output: Path | None) -> None:
    """Write the rendered output to stdout, or replace the file ``output`` atomically (see
    :func:`_replacing`)."""
    if output is None:
        sys.stdout.write(text)
        return
    with _replacing(output) as handle:
        handle.write(text)


@contextmanager
def _replacing(output: Path) -> Iterator[TextIO]:
    """A handle whose text replaces the file ``output`` atomically when the block ends: a
    temporary file in the same folder, renamed over it, so a reader never sees a partial or
    stale report (a block that raises leaves the old file). A symlink's target is replaced; a
    device or pipe is written to."""
    try:
        target = Path(os.path.realpath(output))
        status = target.stat() if target.exists() else None
        if status is not None and not stat.S_ISREG(status.st_mode):
            with target.open("w", encoding="utf-8") as handle:  # /dev/stdout, a named pipe
                yield handle
            return
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot write {output}: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
        os.chmod(temp, status.st_mode & 0o777 if status is not None else 0o644)
        os.replace(temp, target)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from exc
    finally:
        Path(temp).unlink(missing_ok=True)


def _remove_stale(output: Path) -> None:
    """Remove what :func:`_write` would have replaced (a symlink's target, if a regular file);
    a device or pipe is left alone. A failure to remove it is a warning on stderr."""
    try:
        target = Path(os.path.realpath(output))
        if stat.S_ISREG(target.lstat().st_mode):
            target.unlink()
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        print(f"provcheck: warning: cannot remove the earlier {output}: {reason}", file=sys.stderr)


def _report_problems(found: ImageAttestations) -> bool:
    """Warn about every problem on stderr; True if any of them rejected content."""
    from provcheck.report.escape import escape_text

    rejected = False
    for problem in found.all_problems():
        message = escape_text(problem.message)
        print(f"provcheck: warning: {problem.kind.value}: {message}", file=sys.stderr)
        rejected = rejected or problem.kind.rejects
    return rejected


def _inspect(args: argparse.Namespace) -> ExitCode:
    from provcheck.api import inspect_image
    from provcheck.predicates import PredicateKind

    if args.format == "provenance":
        options = _discovery_options(args, kinds=frozenset({PredicateKind.PROVENANCE}))
    elif args.format == "sbom":
        options = _discovery_options(args, kinds=frozenset({PredicateKind.SBOM}))
    else:
        # provcheck's own views also list what is stored outside the index (cosign tags,
        # referrers); the buildx-compatible ones read the index only, as buildx does.
        options = _discovery_options(args, signature_stores=True, trust=_trust(args.key))
    found = inspect_image(
        args.reference, options=options, registry=_registry_options(args), timeout=args.timeout
    )
    if args.format in ("provenance", "sbom"):
        from provcheck._internal.gojson import go_json_indent
        from provcheck.views.buildx import (
            provenance_document,
            redacted_provenance_document,
            sbom_document,
        )

        if args.format == "sbom":
            document = sbom_document(found)
        elif args.show_secrets:
            document = provenance_document(found)
        else:
            document, redacted = redacted_provenance_document(found)
            if redacted:
                print(
                    f"provcheck: {redacted} secret value(s) redacted (--show-secrets prints them)",
                    file=sys.stderr,
                )
        text = go_json_indent(document) + "\n"
    elif args.format == "json":
        import json

        from provcheck.report.escape import escape_surrogates
        from provcheck.views.document import inspect_document

        text = escape_surrogates(json.dumps(inspect_document(found), indent=2, ensure_ascii=False))
        text += "\n"
    else:
        from provcheck.views.text import render_inspect_text

        text = render_inspect_text(found)
    _write(text, None)
    return ExitCode.ERROR if _report_problems(found) else ExitCode.PASS


def _verify(args: argparse.Namespace) -> ExitCode:
    from provcheck.report import Report, ReportFormat, render

    fmt = ReportFormat(args.format)
    try:
        report = _evaluate(args)
    except (Exception, KeyboardInterrupt) as exc:
        # Every run leaves a report in the chosen format, an error run too (a CI job must
        # never read a stale one). On stdout, text stays the one error line on stderr.
        if args.output is not None or fmt is not ReportFormat.TEXT:
            message = _message(exc)
            error = Report.from_error(message, reference=args.reference, policy=str(args.policy))
            _write(render(error, fmt), args.output)
        raise
    _write(render(report, fmt), args.output)
    if args.output is not None or fmt is not ReportFormat.TEXT:
        where = f": report written to {args.output}" if args.output is not None else ""
        print(f"provcheck: {_summary(report)}{where}", file=sys.stderr)
    return _verdict_exit(report)


def _evaluate(args: argparse.Namespace) -> Report:
    if args.cache != "none":
        return _evaluate_cached(args)
    from provcheck.api import verify_image
    from provcheck.policy import load_policy

    policy = _with_cli_trust(args, load_policy(args.policy))
    return verify_image(
        args.reference,
        policy,
        registry=_registry_options(args),
        platforms=_platforms(args),
        max_layer_bytes=args.max_attestation_size,
        timeout=args.timeout,
    )


def _with_cli_trust(args: argparse.Namespace, policy: Policy) -> Policy:
    """``policy`` with the keys of ``--key`` and the root of ``--trusted-root``."""
    if args.key or args.trusted_root:
        from provcheck.attestation.tlog import MAX_TRUSTED_ROOT_BYTES, TrustedRoot
        from provcheck.policy.rules.signatures import with_trust

        keys = _public_keys(args.key)
        root = None
        if args.trusted_root:
            path = args.trusted_root
            data = _trust_file(path, "trusted root", MAX_TRUSTED_ROOT_BYTES)
            root = TrustedRoot.from_bytes(data, str(path))
        policy = with_trust(policy, keys, root)
    return policy


def _add_cache_options(parser: argparse.ArgumentParser, default: str | None) -> None:
    """``--cache`` and ``--cache-max-size`` (verify, audit, cache)."""
    group = parser.add_argument_group("cache")
    where = "none: no cache" if default == "none" else "default $XDG_CACHE_HOME/provcheck"
    group.add_argument(
        "--cache",
        default=default,
        metavar="DIR|redis://HOST:PORT/DB|none",
        help=f"content and verdicts cache ({where}); verdicts are cached in Redis, or in a "
        "directory not private to you, only with an HMAC key in $PROVCHECK_CACHE_HMAC_KEY",
    )
    group.add_argument(
        "--cache-max-size",
        type=_size,
        default=None,
        metavar="SIZE",
        help="size bound of a cache directory (default 1GiB; least recently used go first)",
    )


def _add_cache_commands(commands: Any) -> None:
    """``provcheck cache info|prune|clear``."""
    cache = commands.add_parser(
        "cache",
        help="look after the cache",
        description="Show, prune or clear the content and verdicts cache.",
    )
    actions = cache.add_subparsers(
        dest="cache_command",
        required=True,
        parser_class=_Parser,
        metavar="COMMAND",
        help="provcheck cache COMMAND --help shows its options",
    )
    for name, text in (
        ("info", "count the entries and their size"),
        ("prune", "remove expired, orphaned and least recently used entries"),
        ("clear", "remove every entry"),
    ):
        action = actions.add_parser(name, help=text, description=text.capitalize() + ".")
        _add_cache_options(action, default=None)
        _add_verbose(action, f"verbose_cache_{name}")
    _add_verbose(cache, "verbose_cache")


def _open_cache(args: argparse.Namespace) -> Cache:
    from provcheck.cache import open_cache, secret_from_env
    from provcheck.cache.disk import DEFAULT_DISK_BYTES, default_cache_dir

    if args.cache == "none":
        raise UsageError("provcheck cache needs a cache: --cache DIR|redis://HOST:PORT/DB")
    spec = args.cache if args.cache is not None else str(default_cache_dir())
    size = args.cache_max_size or DEFAULT_DISK_BYTES
    return open_cache(spec, max_bytes=size, secret=secret_from_env())


def _evaluate_cached(args: argparse.Namespace) -> Report:
    """``verify --cache``: the policy file read once (its bytes are part of the verdict key)."""
    import asyncio

    from provcheck._internal.files import read_capped
    from provcheck.cache.verify import verify_cached
    from provcheck.policy.loader import MAX_POLICY_BYTES, parse_policy
    from provcheck.policy.resolver import FileResolver

    raw = read_capped(args.policy, MAX_POLICY_BYTES, "policy file", PolicyError)
    parsed = parse_policy(raw, str(args.policy), resolver=FileResolver(args.policy.parent))
    policy = _with_cli_trust(args, parsed)
    registry = _registry_options(args)

    async def run() -> Report:
        cache = _open_cache(args)
        try:
            report: Report = await verify_cached(
                args.reference,
                policy,
                raw,
                cache,
                registry=registry,
                timeout=args.timeout,
                platforms=_platforms(args),
                max_layer_bytes=args.max_attestation_size,
            )
        finally:
            await cache.aclose()
        return report

    return asyncio.run(run())


def _cache(args: argparse.Namespace) -> ExitCode:
    """``provcheck cache info|prune|clear``."""
    import asyncio

    async def run() -> str:
        cache = _open_cache(args)
        try:
            if args.cache_command == "info":
                info = await cache.info()
                return (
                    f"cache: {info.location}\n"
                    f"content: {info.blobs} entries, {info.blob_bytes} bytes\n"
                    f"verdicts: {info.verdicts} entries, {info.verdict_bytes} bytes"
                    f"{'' if info.verdicts_enabled else ' (verdict caching off: no HMAC key)'}\n"
                    f"bound: {info.bound}\n"
                )
            done = await (cache.prune() if args.cache_command == "prune" else cache.clear())
            return f"{cache.location}: removed {done.removed} entries ({done.freed} bytes)\n"
        finally:
            await cache.aclose()

    _write(asyncio.run(run()), None)
    return ExitCode.PASS


def _summary(report: Report) -> str:
    """``verdict: FAIL (7 pass, 1 fail)``, the last line of the text report."""
    counts = ", ".join(f"{n} {status}" for status, n in report.counts().items() if n)
    return f"verdict: {report.verdict.upper()} ({counts or 'no results'})"


def _verdict_exit(report: Report) -> ExitCode:
    return _verdict_exit_of(report.verdict)


def _discovery_options(args: argparse.Namespace, **kwargs: Any) -> DiscoveryOptions:
    """Discovery options from the common command-line options."""
    from dataclasses import replace

    from provcheck.discovery.options import DiscoveryOptions

    options = replace(DiscoveryOptions(platforms=_platforms(args)), **kwargs)
    if args.max_attestation_size is not None:
        options = replace(options, max_layer_bytes=args.max_attestation_size)
    return options


def _trust_file(path: Path, what: str, limit: int) -> bytes:
    """The bytes of a ``--key`` or ``--trusted-root`` file, read as the files a policy names
    are (:class:`~provcheck.policy.resolver.FileResolver`, here relative to the current
    directory): a regular file only (a FIFO or a device could block or never end), at most
    ``limit`` bytes. Raises :class:`UsageError`."""
    from provcheck.errors import KeyResolutionError
    from provcheck.policy.resolver import FileResolver

    try:
        data = FileResolver(Path()).resolve(str(path))
    except KeyResolutionError as exc:
        raise UsageError(f"{exc.location}: cannot read the {what}: {exc.reason}") from exc
    if len(data) > limit:
        raise UsageError(f"{path}: {what} is larger than {limit} bytes")
    return data


def _public_keys(paths: Sequence[Path]) -> list[PublicKey]:
    """The ``--key`` files, each read by :func:`_trust_file`. Raises :class:`UsageError`."""
    from provcheck.attestation.keys import MAX_KEY_FILE_BYTES, parse_public_key

    return [
        parse_public_key(_trust_file(path, "key file", MAX_KEY_FILE_BYTES), str(path))
        for path in paths
    ]


def _trust(keys: list[Path]) -> TrustConfig | None:
    """Trust the given public keys, or nobody (``None``) when there are none."""
    if not keys:
        return None
    from provcheck.attestation.signatures import TrustConfig

    return TrustConfig(keys=tuple(_public_keys(keys)))


def _sbom(args: argparse.Namespace) -> ExitCode:
    try:
        return _export_sbom(args)
    except (Exception, KeyboardInterrupt):
        # A run that exports nothing leaves no file: never the export of an earlier run.
        if args.output is not None:
            _remove_stale(args.output)
        raise


def _export_sbom(args: argparse.Namespace) -> ExitCode:
    from provcheck.api import sbom_image
    from provcheck.errors import NoSbomError
    from provcheck.sbom.export import ExportFormat, export_sboms

    platforms = _platforms(args)  # a bad --platform is named before a bad reference
    try:
        result = sbom_image(
            args.reference,
            registry=_registry_options(args),
            timeout=args.timeout,
            platforms=platforms,
            max_layer_bytes=args.max_attestation_size,
        )
    except NoSbomError as exc:
        if exc.attestations is not None:
            _report_problems(exc.attestations)  # why there is none
        raise
    rejected = _report_problems(result.attestations)
    fmt = ExportFormat(args.format)
    described = sorted({entry.platform for entry in result.sboms if entry.platform})
    if fmt in (ExportFormat.CYCLONEDX, ExportFormat.SPDX) and len(described) > 1:
        raise UsageError(
            f"--format {fmt.value} exports one document, and {len(described)} platforms have "
            f"an SBOM: pick one with --platform ({', '.join(described)}), or use json or csv"
        )
    _write(export_sboms(result.sboms, fmt), args.output)
    return ExitCode.ERROR if rejected else ExitCode.PASS


def _policy_lint(args: argparse.Namespace) -> ExitCode:
    from provcheck.policy import lint_policy

    messages = lint_policy(args.file)
    for message in messages:
        print(message, file=sys.stderr)
    if messages:
        return ExitCode.USAGE
    print(f"{args.file}: ok")
    return ExitCode.PASS


_COMMANDS: dict[str, Callable[[argparse.Namespace], ExitCode]] = {
    "inspect": _inspect,
    "verify": _verify,
    "policy": _policy_lint,
    "sbom": _sbom,
    "audit": _audit,
    "cache": _cache,
}


def _message(exc: BaseException) -> str:
    """The one line shown for ``exc``: its diagnostics, or a pointer to ``-vv`` for a bug.

    Diagnostics may quote an attestation or a registry: every control, line-breaking or bidi
    character is escaped (:func:`~provcheck.report.escape.escape_text`), on each line of the
    one error that has several (a policy file's mistakes, one a line)."""
    if isinstance(exc, ProvcheckError):
        from provcheck.report.escape import escape_text

        text = exc.diagnostics()
        lines = text.split("\n") if isinstance(exc, PolicyMistakesError) else [text]
        return "\n".join(escape_text(line) for line in lines)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"internal error ({type(exc).__name__}); run with -vv for the traceback"


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
        code = _COMMANDS[args.command](args)
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
        print(f"provcheck: error: {_message(exc)}", file=sys.stderr)
        usage = isinstance(exc, UsageError | PolicyError)
        return ExitCode.USAGE if usage else ExitCode.ERROR
    except Exception as exc:  # a bug: fail closed, with one line (the traceback with -vv)
        if verbose >= 2:
            traceback.print_exc(file=sys.stderr)
        print(f"provcheck: error: {_message(exc)}", file=sys.stderr)
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
        _check_values(parser, args)
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

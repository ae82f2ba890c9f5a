"""Shared by the commands: exit codes, the parser class, common options, output and errors."""

from __future__ import annotations

import argparse
import os
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence, Set
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TextIO

from provcheck.errors import PolicyMistakesError, ProvcheckError, UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from provcheck.attestation.keys import PublicKey
    from provcheck.attestation.signatures import TrustConfig
    from provcheck.cache import Cache
    from provcheck.discovery.model import ImageAttestations
    from provcheck.discovery.options import DiscoveryOptions
    from provcheck.oci.digest import Digest
    from provcheck.oci.reference import ImageReference
    from provcheck.policy import Policy
    from provcheck.report import Report, Verdict
    from provcheck.source.registry import RegistryOptions


class Command(Protocol):
    """A command's module: ``add`` adds its parser, whose ``run`` default runs it."""

    def add(self, commands: Any) -> None:
        """Add the command's parser to the subparsers ``commands``."""


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
  0    pass (verify, audit: every rule passed; inspect, sbom: all evidence was read;
       explain: explained, whatever is missing; serve: stopped by SIGTERM)
  1    policy violation (verify, audit); an SBOM that fails its schema (sbom --validate)
  2    usage error: bad arguments, reference, --platform, policy file or input file
  3    fetch or verification error: registry unreachable, content that does not match its
       digest, evidence too large, missing, malformed or bound to another image, an
       internal error; 3 beats 1
  130  interrupted (Ctrl-C)
  141  stdout closed by its reader (`| head`): 128 + SIGPIPE, as a shell reports it
"""


class Parser(argparse.ArgumentParser):
    """argparse with exit code 2, one-line errors and the exit-code table in every help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        kwargs.setdefault("epilog", EXIT_CODES)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def check_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse ``--option=--``, which Python 3.11's argparse stores as an empty list instead of
    a value (without calling the option's type), in ``parser`` and the subcommands ``args``
    chose. Exits with a usage error (2)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = getattr(args, action.dest, None)
            if chosen in action.choices:
                check_values(action.choices[chosen], args)
            continue
        if not action.option_strings or action.nargs is not None:
            continue
        value = getattr(args, action.dest, None)
        values = value if isinstance(action, argparse._AppendAction) else [value]
        if isinstance(values, list) and any(v == [] for v in values):
            parser.error(f"argument {'/'.join(action.option_strings)}: expected a value, not '--'")


def size(text: str) -> int:
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


def seconds(text: str) -> float:
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


def instant(text: str) -> datetime:
    """The type of ``--at``: an RFC 3339 timestamp with its offset (``2026-06-30T12:00:00Z``)
    or a date (``2026-06-30``, its first second in UTC)."""
    from provcheck._internal.clock import parse_instant

    try:
        return parse_instant(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid time {text[:60]!r} (RFC 3339 with an offset, e.g. 2026-06-30T12:00:00Z, "
            "or a date, 2026-06-30)"
        ) from None


def add_evidence_options(parser: argparse.ArgumentParser, pack: str) -> None:
    """``--at`` and ``--evidence`` (verify, audit); ``pack`` says what ``--evidence`` writes."""
    parser.add_argument(
        "--at",
        type=instant,
        metavar="TIME",
        help="evaluate time-dependent rules (max-age, expiries) as of this instant: RFC 3339 "
        "(2026-06-30T12:00:00Z) or a date (2026-06-30, 00:00 UTC); default now",
    )
    parser.add_argument(
        "--evidence",
        type=Path,
        metavar="DIR",
        help=f"write {pack}: an OCI image layout of every byte the verdict was computed "
        "from, the policy, the trust inputs and the report (replay it with "
        "verify oci-layout://DIR --policy FILE --at TIME)",
    )


def add_source_options(parser: argparse.ArgumentParser) -> None:
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
    add_attestations_repo(group)
    group.add_argument(
        "--timeout",
        type=seconds,
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
        type=size,
        default=None,
        metavar="SIZE",
        help="refuse attestation layers larger than this (default 64MiB)",
    )


COSIGN_REPOSITORY = "COSIGN_REPOSITORY"
"""The environment variable cosign reads for the repository of signatures and attestations."""


def add_attestations_repo(group: argparse._ActionsContainer) -> None:
    """``--attestations-repo REPO``: inspect, verify, sbom, audit and serve."""
    group.add_argument(
        "--attestations-repo",
        metavar="REPO",
        help="also read cosign tags and referrers of the image's digests from this repository "
        f"([registry/]repo, any registry; default ${COSIGN_REPOSITORY}, as cosign reads it)",
    )


def attestations_repository_of(args: argparse.Namespace) -> ImageReference | None:
    """``--attestations-repo``, else a non-empty ``$COSIGN_REPOSITORY`` (as cosign reads it),
    parsed. Raises :class:`InvalidReferenceError` (exit 2) for a malformed name."""
    from provcheck.oci.reference import parse_repository

    value = args.attestations_repo
    if value is None:
        value = os.environ.get(COSIGN_REPOSITORY) or None
        if value is None:
            return None
        try:
            return parse_repository(value)
        except UsageError as exc:
            raise UsageError(f"${COSIGN_REPOSITORY}: {exc.diagnostics()}") from exc
    return parse_repository(value)


VERBOSE_HELP = "-v: retries; -vv: every request, tracebacks (before or after the command)"


def add_verbose(parser: argparse.ArgumentParser, dest: str) -> None:
    """``-v`` for the main parser and again for each command: the counts add up."""
    parser.add_argument("-v", "--verbose", action="count", default=0, dest=dest, help=VERBOSE_HELP)


def positive(text: str) -> int:
    """An integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}: must be at least 1")
    return value


def verdict_exit_of(verdict: Verdict) -> ExitCode:
    """The exit code of a verdict: of one report, or the worst of an audit's."""
    from provcheck.report import Verdict

    if verdict is Verdict.PASS:
        return ExitCode.PASS
    return ExitCode.VIOLATION if verdict is Verdict.FAIL else ExitCode.ERROR


def check_local(reference: str) -> None:
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


def registry_options(args: argparse.Namespace) -> RegistryOptions | None:
    """Registry settings, or ``None`` for a layout (which then never imports the HTTP stack)."""
    from provcheck.oci.reference import LAYOUT_SCHEME

    check_local(args.reference)
    if args.reference.startswith(LAYOUT_SCHEME):
        return None
    from provcheck.source.registry import RegistryOptions

    return RegistryOptions(
        insecure_registries=frozenset(args.insecure_registry), ca_file=args.ca_file
    )


def platforms_of(args: argparse.Namespace) -> frozenset[str]:
    from provcheck.oci.platform import Platform

    return frozenset(Platform.parse(p).key for p in args.platform)


def write_output(text: str, output: Path | None) -> None:
    """Write the rendered output to stdout, or replace the file ``output`` atomically (see
    :func:`replacing`)."""
    if output is None:
        sys.stdout.write(text)
        return
    with replacing(output) as handle:
        handle.write(text)


@contextmanager
def replacing(output: Path) -> Iterator[TextIO]:
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


def remove_stale(output: Path) -> None:
    """Remove what :func:`write_output` would have replaced (a symlink's target, if a regular file);
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


def report_problems(found: ImageAttestations, ignore: Set[Digest] = frozenset()) -> bool:
    """Warn about every problem on stderr; True if any of them rejected content (a
    ``malformed`` problem of content whose digest is in ``ignore`` excepted: the caller
    reports on that content itself)."""
    from provcheck.discovery.model import ProblemKind
    from provcheck.report.escape import escape_text

    rejected = False
    for problem in found.all_problems():
        message = escape_text(problem.message)
        print(f"provcheck: warning: {problem.kind.value}: {message}", file=sys.stderr)
        handled = problem.kind is ProblemKind.MALFORMED and problem.digest in ignore
        rejected = rejected or (problem.kind.rejects and not handled)
    return rejected


def with_cli_trust(args: argparse.Namespace, policy: Policy) -> Policy:
    """``policy`` with the keys of ``--key`` and the root of ``--trusted-root``."""
    if args.key or args.trusted_root:
        from provcheck.attestation.tlog import MAX_TRUSTED_ROOT_BYTES, TrustedRoot
        from provcheck.policy.rules.signatures import with_trust

        keys = public_keys(args.key)
        root = None
        if args.trusted_root:
            path = args.trusted_root
            data = trust_file(path, "trusted root", MAX_TRUSTED_ROOT_BYTES)
            root = TrustedRoot.from_bytes(data, str(path))
        policy = with_trust(policy, keys, root)
    return policy


def read_cli_policy(args: argparse.Namespace) -> tuple[bytes, Policy]:
    """The ``--policy`` file's bytes (read once) and the policy parsed from them, with the
    trust of ``--key`` and ``--trusted-root`` (:func:`with_cli_trust`): verify and audit."""
    from provcheck.policy.loader import read_policy

    raw, parsed = read_policy(args.policy)
    return raw, with_cli_trust(args, parsed)


def add_cache_options(parser: argparse.ArgumentParser, default: str | None) -> None:
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
        type=size,
        default=None,
        metavar="SIZE",
        help="size bound of a cache directory (default 1GiB; least recently used go first)",
    )


def open_cli_cache(args: argparse.Namespace) -> Cache:
    """The cache of ``--cache`` (default: the user's cache directory) and ``--cache-max-size``,
    keyed with ``$PROVCHECK_CACHE_HMAC_KEY``. Raises :class:`UsageError` for ``none``."""
    from provcheck.cache import open_cache, secret_from_env
    from provcheck.cache.disk import DEFAULT_DISK_BYTES, default_cache_dir

    if args.cache == "none":
        raise UsageError(
            f"provcheck {args.command} needs a cache: --cache DIR|redis://HOST:PORT/DB"
        )
    spec = args.cache if args.cache is not None else str(default_cache_dir())
    size = args.cache_max_size or DEFAULT_DISK_BYTES
    return open_cache(spec, max_bytes=size, secret=secret_from_env())


def summary_line(report: Report) -> str:
    """``verdict: FAIL (7 pass, 1 fail)``, the last line of the text report."""
    counts = ", ".join(f"{n} {status}" for status, n in report.counts().items() if n)
    return f"verdict: {report.verdict.upper()} ({counts or 'no results'})"


def verdict_exit(report: Report) -> ExitCode:
    return verdict_exit_of(report.verdict)


def discovery_options(args: argparse.Namespace, **kwargs: Any) -> DiscoveryOptions:
    """Discovery options from the common command-line options."""
    from dataclasses import replace

    from provcheck.discovery.options import DiscoveryOptions

    options = replace(DiscoveryOptions(platforms=platforms_of(args)), **kwargs)
    repository = attestations_repository_of(args)
    if repository is not None:
        options = replace(options, attestations_repository=repository)
    if args.max_attestation_size is not None:
        options = replace(options, max_layer_bytes=args.max_attestation_size)
    return options


def trust_file(path: Path, what: str, limit: int) -> bytes:
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


def public_keys(paths: Sequence[Path]) -> list[PublicKey]:
    """The ``--key`` files, each read by :func:`trust_file`. Raises :class:`UsageError`."""
    from provcheck.attestation.keys import MAX_KEY_FILE_BYTES, parse_public_key

    return [
        parse_public_key(trust_file(path, "key file", MAX_KEY_FILE_BYTES), str(path))
        for path in paths
    ]


def trust_of(keys: list[Path]) -> TrustConfig | None:
    """Trust the given public keys, or nobody (``None``) when there are none."""
    if not keys:
        return None
    from provcheck.attestation.signatures import TrustConfig

    return TrustConfig(keys=tuple(public_keys(keys)))


def error_message(exc: BaseException) -> str:
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

"""The ``provcheck`` command line: argument parsing, output, exit codes. Nothing else.

Exit codes: 0 pass, 1 policy violation, 2 usage or policy-file error, 3 fetch or verification
error. A :class:`ProvcheckError` is one line on stderr (a traceback only with ``-v``); anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from provcheck import __version__
from provcheck.errors import PolicyError, ProvcheckError, UsageError

if TYPE_CHECKING:
    from provcheck.attestation.signatures import TrustConfig
    from provcheck.discovery.model import ImageAttestations
    from provcheck.discovery.options import DiscoveryOptions
    from provcheck.source.registry import RegistryOptions

_log = logging.getLogger("provcheck")

INSPECT_FORMATS = ("text", "json", "provenance", "sbom")
REPORT_FORMATS = ("text", "json", "sarif", "junit")
SBOM_FORMATS = ("json", "csv", "cyclonedx", "spdx")


class ExitCode(IntEnum):
    """The process exit codes, a contract with admission gates and CI."""

    PASS = 0
    VIOLATION = 1
    USAGE = 2
    ERROR = 3


class _Parser(argparse.ArgumentParser):
    """argparse with exit code 2 and one-line errors (its default too, made explicit)."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.USAGE, f"provcheck: error: {message}\n")


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


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    """The image to read and how to reach it: shared by inspect, verify and sbom."""
    parser.add_argument("reference", help="IMAGE[:TAG][@DIGEST] or oci-layout://PATH[:TAG]")
    group = parser.add_argument_group("registry access")
    group.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="allow plain HTTP for this registry (localhost and 127.0.0.1 always are)",
    )
    group.add_argument("--ca-file", type=Path, help="PEM bundle of CAs to trust for TLS")
    group.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for a registry response"
    )
    parser.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="OS/ARCH[/VARIANT]",
        help="only this platform (repeatable)",
    )
    parser.add_argument(
        "--max-attestation-size",
        type=_size,
        default=None,
        metavar="SIZE",
        help="refuse attestation layers larger than this (default 64MiB)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="provcheck",
        description="Verify the supply-chain attestations of container images.",
    )
    parser.add_argument("--version", action="version", version=f"provcheck {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v: retries; -vv: every request, tracebacks",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    inspect = commands.add_parser(
        "inspect",
        help="show the attestations of an image",
        description="Show the attestations of an image. --format provenance and sbom print "
        "what `docker buildx imagetools inspect --format '{{json .Provenance}}'` "
        "(or .SBOM) prints, from verified and bound statements only.",
    )
    inspect.add_argument("--format", choices=INSPECT_FORMATS, default="text")
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
        description="Verify an image against a policy. Exit codes: 0 pass, 1 policy "
        "violation, 2 usage or policy error, 3 fetch or verification error.",
    )
    verify.add_argument("--policy", required=True, type=Path, help="policy file (YAML)")
    verify.add_argument("--format", choices=REPORT_FORMATS, default="text")
    verify.add_argument("--output", type=Path, help="write the report here instead of stdout")
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

    sbom = commands.add_parser(
        "sbom",
        help="export the SBOMs of an image",
        description="Export the components of every SBOM bound to the image (in the index, "
        "in cosign attestations, in OCI referrers), or the original document.",
    )
    sbom.add_argument("--format", choices=SBOM_FORMATS, default="json")
    sbom.add_argument("--output", type=Path, help="write the export here instead of stdout")
    _add_source_options(sbom)

    policy = commands.add_parser("policy", help="work with policy files")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    lint = policy_commands.add_parser("lint", help="validate a policy file")
    lint.add_argument("file", type=Path)
    return parser


def _registry_options(args: argparse.Namespace) -> RegistryOptions | None:
    """Registry settings, or ``None`` for a layout (which then never imports the HTTP stack)."""
    from provcheck.oci.reference import LAYOUT_SCHEME

    if args.reference.startswith(LAYOUT_SCHEME):
        return None
    from provcheck.source.registry import RegistryOptions

    return RegistryOptions(
        insecure_registries=frozenset(args.insecure_registry),
        ca_file=args.ca_file,
        timeout=args.timeout,
    )


def _platforms(args: argparse.Namespace) -> frozenset[str]:
    from provcheck.oci.platform import Platform

    return frozenset(Platform.parse(p).key for p in args.platform)


def _write(text: str, output: Path | None) -> None:
    """Write the rendered output; ``--output`` is opened only now, when there is something."""
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from exc


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
    found = inspect_image(args.reference, options=options, registry=_registry_options(args))
    if args.format in ("provenance", "sbom"):
        from provcheck.views.buildx import provenance_document, sbom_document
        from provcheck.views.gojson import go_json_indent

        build = provenance_document if args.format == "provenance" else sbom_document
        text = go_json_indent(build(found)) + "\n"
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
    from provcheck.api import verify_image
    from provcheck.policy import load_policy
    from provcheck.report import ReportFormat, Verdict, render

    policy = load_policy(args.policy)
    if args.key or args.trusted_root:
        from provcheck.attestation.keys import load_public_key
        from provcheck.attestation.tlog import load_trusted_root
        from provcheck.policy.rules.signatures import with_trust

        keys = [load_public_key(path) for path in args.key]
        root = load_trusted_root(args.trusted_root) if args.trusted_root else None
        policy = with_trust(policy, keys, root)
    report = verify_image(
        args.reference,
        policy,
        registry=_registry_options(args),
        platforms=_platforms(args),
    )
    _write(render(report, ReportFormat(args.format)), args.output)
    if report.verdict is Verdict.PASS:
        return ExitCode.PASS
    return ExitCode.VIOLATION if report.verdict is Verdict.FAIL else ExitCode.ERROR


def _discovery_options(args: argparse.Namespace, **kwargs: Any) -> DiscoveryOptions:
    """Discovery options from the common command-line options."""
    from dataclasses import replace

    from provcheck.discovery.options import DiscoveryOptions

    options = replace(DiscoveryOptions(platforms=_platforms(args)), **kwargs)
    if args.max_attestation_size is not None:
        options = replace(options, max_layer_bytes=args.max_attestation_size)
    return options


def _trust(keys: list[Path]) -> TrustConfig | None:
    """Trust the given public keys, or nobody (``None``) when there are none."""
    if not keys:
        return None
    from provcheck.attestation.keys import load_public_key
    from provcheck.attestation.signatures import TrustConfig

    return TrustConfig(keys=tuple(load_public_key(path) for path in keys))


def _sbom(args: argparse.Namespace) -> ExitCode:
    from provcheck.api import inspect_image
    from provcheck.attestation.binding import BindingStatus
    from provcheck.errors import NoSbomError
    from provcheck.predicates import PredicateKind
    from provcheck.sbom import parse_sbom
    from provcheck.sbom.export import ExportFormat, SbomEntry, export_sboms

    options = _discovery_options(args, kinds=frozenset({PredicateKind.SBOM}), signature_stores=True)
    found = inspect_image(args.reference, options=options, registry=_registry_options(args))
    entries: dict[str, SbomEntry] = {}
    for image in found.images:
        for usable in image.statements(PredicateKind.SBOM):
            assert usable.layer.binding is not None  # usable statements are bound
            index_scoped = usable.layer.binding.status is BindingStatus.INDEX
            platform = None if index_scoped else image.platform.key
            key = f"{platform}|{usable.source}"
            if key not in entries:
                entries[key] = SbomEntry(platform, usable.source, parse_sbom(usable.statement))
    rejected = _report_problems(found)
    if not entries:
        raise NoSbomError(f"no usable SBOM is bound to {found.reference} ({found.digest.short})")
    _write(export_sboms(list(entries.values()), ExportFormat(args.format)), args.output)
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
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    args = _parser().parse_args(argv)
    levels = {0: logging.WARNING, 1: logging.INFO}
    logging.basicConfig(
        level=levels.get(args.verbose, logging.DEBUG),
        format="provcheck: %(levelname)s: %(message)s",
    )
    # httpx and httpcore log whole URLs (presigned redirects carry credentials in the query):
    # only provcheck's own records, which leave the query out, are shown.
    for noisy in ("httpx", "httpcore", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return _COMMANDS[args.command](args)
    except ProvcheckError as exc:
        if args.verbose >= 2:
            _log.exception("%s", type(exc).__name__)
        print(f"provcheck: error: {exc.diagnostics()}", file=sys.stderr)
        usage = isinstance(exc, UsageError | PolicyError)
        return ExitCode.USAGE if usage else ExitCode.ERROR


def entrypoint() -> NoReturn:
    """The console script: ``sys.exit(main())``."""
    sys.exit(main())

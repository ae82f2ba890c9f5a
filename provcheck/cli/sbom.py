"""``provcheck sbom``: export the SBOMs of an image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provcheck.cli.common import (
    ExitCode,
    add_source_options,
    add_verbose,
    attestations_repository_of,
    platforms_of,
    registry_options,
    remove_stale,
    report_problems,
    write_output,
)
from provcheck.errors import UsageError

if TYPE_CHECKING:
    from provcheck.discovery.model import ImageAttestations
    from provcheck.sbom.collect import ImageSboms


SBOM_FORMATS = ("json", "csv", "cyclonedx", "spdx", "original")
DEFAULT_MAX_ERRORS = 10  # provcheck.sbom.schema.DEFAULT_MAX_ERRORS, not imported at start-up


def add(commands: Any) -> None:
    """Add the command to ``commands``."""
    sbom = commands.add_parser(
        "sbom",
        help="export the SBOMs of an image",
        description="Export the components of every SBOM bound to the image (in the index, "
        "in cosign attestations, in OCI referrers), or the original document.",
    )
    sbom.add_argument(
        "--format",
        choices=SBOM_FORMATS,
        default=None,
        help="json (the default) or csv (components of every SBOM); cyclonedx (CycloneDX "
        "1.6) or spdx (SPDX 2.3): one SBOM, converted when it is in the other format (what "
        "was dropped goes to stderr and into the document), the original when it is not; "
        "original: the "
        "document as stored (pick a platform with --platform)",
    )
    sbom.add_argument(
        "--validate",
        action="store_true",
        help="validate each original SBOM document against its official JSON schema instead "
        "(exit 1 when one is invalid)",
    )
    sbom.add_argument(
        "--max-errors",
        type=int,
        default=DEFAULT_MAX_ERRORS,
        metavar="N",
        help="with --validate: list at most N schema errors per document",
    )
    sbom.add_argument(
        "--output", type=Path, metavar="FILE", help="write the export here instead of stdout"
    )
    add_source_options(sbom)
    add_verbose(sbom, "verbose_sbom")
    sbom.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    if args.max_errors < 1:
        raise UsageError("--max-errors must be at least 1")
    if args.validate and args.format is not None:
        raise UsageError("--validate writes a validation report, not an export: drop --format")
    try:
        return _validate_sboms(args) if args.validate else _export_sbom(args)
    except (Exception, KeyboardInterrupt):
        # A run that exports nothing leaves no file: never the export of an earlier run.
        if args.output is not None:
            remove_stale(args.output)
        raise


def _sbom_image(args: argparse.Namespace) -> ImageSboms:
    """The SBOMs of ``args.reference`` as the common options say (export and validate alike)."""
    from provcheck.api import sbom_image

    platforms = platforms_of(args)  # a bad --platform is named before a bad reference
    return sbom_image(
        args.reference,
        registry=registry_options(args),
        timeout=args.timeout,
        platforms=platforms,
        max_layer_bytes=args.max_attestation_size,
        attestations_repository=attestations_repository_of(args),
    )


def _export_sbom(args: argparse.Namespace) -> ExitCode:
    from provcheck.errors import NoSbomError
    from provcheck.sbom.export import ExportFormat, export_one, export_sboms

    try:
        result = _sbom_image(args)
    except NoSbomError as exc:
        if exc.attestations is not None:
            report_problems(exc.attestations)  # why there is none
        raise
    rejected = report_problems(result.attestations)
    fmt = ExportFormat(args.format or "json")
    if fmt in (ExportFormat.JSON, ExportFormat.CSV):
        write_output(export_sboms(result.sboms, fmt), args.output)
        return ExitCode.ERROR if rejected else ExitCode.PASS
    described = sorted({entry.platform for entry in result.sboms if entry.platform})
    if len(described) > 1:
        raise UsageError(
            f"--format {fmt.value} exports one document, and {len(described)} platforms have "
            f"an SBOM: pick one with --platform ({', '.join(described)}), or use json or csv"
        )
    text, conversion = export_one(result.sboms, fmt)
    write_output(text, args.output)
    if conversion is not None:
        print(f"provcheck: note: {conversion.note}", file=sys.stderr)
    return ExitCode.ERROR if rejected else ExitCode.PASS


def _validate_sboms(args: argparse.Namespace) -> ExitCode:
    from provcheck.errors import NoSbomError
    from provcheck.report.escape import escape_text
    from provcheck.sbom.collect import sbom_documents
    from provcheck.sbom.schema import validate_schema

    try:
        found: ImageAttestations = _sbom_image(args).attestations
    except NoSbomError as exc:
        # a document the projection refused is still validated: the schema says why
        if exc.attestations is None or not sbom_documents(exc.attestations):
            if exc.attestations is not None:
                report_problems(exc.attestations)
            raise
        found = exc.attestations
    documents = sbom_documents(found)
    validated = {d.digest for d in documents}
    rejected = report_problems(found, ignore=validated)
    lines: list[str] = []
    invalid = 0
    for doc in documents:
        report = validate_schema(doc.format, doc.document, args.max_errors)
        where = f"{doc.platform or 'index'} {doc.source}"
        if report.valid:
            lines.append(f"valid: {where}: {report.schema}\n")
            continue
        invalid += 1
        lines.append(f"invalid: {where}: {report.schema}: {len(report.problems)} error(s)")
        lines.append(" (more not shown)\n" if report.more else "\n")
        lines.extend(f"  {p.path}: {escape_text(p.message)}\n" for p in report.problems)
    write_output("".join(lines), args.output)
    if invalid:
        return ExitCode.VIOLATION
    return ExitCode.ERROR if rejected else ExitCode.PASS

"""``provcheck sbom``: export the SBOMs of an image."""

from __future__ import annotations

import argparse
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
    pass


SBOM_FORMATS = ("json", "csv", "cyclonedx", "spdx")


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
        default="json",
        help="json or csv (components of every SBOM), cyclonedx or spdx (the original "
        "document of one SBOM: pick a platform with --platform)",
    )
    sbom.add_argument(
        "--output", type=Path, metavar="FILE", help="write the export here instead of stdout"
    )
    add_source_options(sbom)
    add_verbose(sbom, "verbose_sbom")
    sbom.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    try:
        return _export_sbom(args)
    except (Exception, KeyboardInterrupt):
        # A run that exports nothing leaves no file: never the export of an earlier run.
        if args.output is not None:
            remove_stale(args.output)
        raise


def _export_sbom(args: argparse.Namespace) -> ExitCode:
    from provcheck.api import sbom_image
    from provcheck.errors import NoSbomError
    from provcheck.sbom.export import ExportFormat, export_sboms

    platforms = platforms_of(args)  # a bad --platform is named before a bad reference
    try:
        result = sbom_image(
            args.reference,
            registry=registry_options(args),
            timeout=args.timeout,
            platforms=platforms,
            max_layer_bytes=args.max_attestation_size,
            attestations_repository=attestations_repository_of(args),
        )
    except NoSbomError as exc:
        if exc.attestations is not None:
            report_problems(exc.attestations)  # why there is none
        raise
    rejected = report_problems(result.attestations)
    fmt = ExportFormat(args.format)
    described = sorted({entry.platform for entry in result.sboms if entry.platform})
    if fmt in (ExportFormat.CYCLONEDX, ExportFormat.SPDX) and len(described) > 1:
        raise UsageError(
            f"--format {fmt.value} exports one document, and {len(described)} platforms have "
            f"an SBOM: pick one with --platform ({', '.join(described)}), or use json or csv"
        )
    write_output(export_sboms(result.sboms, fmt), args.output)
    return ExitCode.ERROR if rejected else ExitCode.PASS

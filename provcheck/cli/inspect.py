"""``provcheck inspect``: show the attestations of an image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from provcheck.cli.common import (
    ExitCode,
    add_source_options,
    add_verbose,
    discovery_options,
    registry_options,
    report_problems,
    trust_of,
    write_output,
)

INSPECT_FORMATS = ("text", "json", "provenance", "sbom")


def add(commands: Any) -> None:
    """Add the command to ``commands``."""
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
    add_source_options(inspect)
    add_verbose(inspect, "verbose_inspect")
    inspect.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    from provcheck.api import inspect_image
    from provcheck.predicates import PredicateKind

    if args.format == "provenance":
        options = discovery_options(args, kinds=frozenset({PredicateKind.PROVENANCE}))
    elif args.format == "sbom":
        options = discovery_options(args, kinds=frozenset({PredicateKind.SBOM}))
    else:
        # provcheck's own views also list what is stored outside the index (cosign tags,
        # referrers); the buildx-compatible ones read the index only, as buildx does.
        options = discovery_options(args, signature_stores=True, trust=trust_of(args.key))
    found = inspect_image(
        args.reference, options=options, registry=registry_options(args), timeout=args.timeout
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
    write_output(text, None)
    return ExitCode.ERROR if report_problems(found) else ExitCode.PASS

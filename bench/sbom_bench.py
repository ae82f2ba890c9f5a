"""Parse + evaluate speed and peak memory of SBOM rules on generated SPDX and CycloneDX SBOMs.

Run: ``.venv/bin/python bench/sbom_bench.py [--sizes 1000,10000,50000] [--slow]``.

For each format and size: the statement bytes are generated (seeded), then timed separately:
``parse`` (``parse_statement`` + ``parse_sbom``), ``evaluate`` (the ``sbom`` rule with deny and
allow lists through :func:`provcheck.policy.evaluate`), and peak traced memory of both together
(tracemalloc, in a separate run). For comparison, on the same CycloneDX documents:
cyclonedx-python-lib's ``JsonStrictValidator`` (quadratic: only at 1,000, and 5,000 with
``--slow``), ``Bom.from_json`` (0.6 ms per component: up to 5,000), and provcheck's linear
full-schema validation (up to 10,000, 50,000 with ``--slow``).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provcheck.attestation.binding import Binding, BindingStatus
from provcheck.attestation.statement import parse_statement
from provcheck.discovery.model import (
    AttestationForm,
    AttestationLayer,
    AttestationManifest,
    AttestationOrigin,
    ImageAttestations,
    PlatformImage,
)
from provcheck.oci.model import Descriptor
from provcheck.oci.platform import Platform
from provcheck.policy import evaluate, parse_policy
from provcheck.sbom import parse_sbom
from provcheck.sbom.cyclonedx import validate_cyclonedx_schema

SEED = 20261126
SUBJECT = "ab" * 32
POLICY = """\
apiVersion: provcheck/v1
kind: Policy
rules:
  sbom:
    required: true
    formats: [spdx, cyclonedx]
    deny-packages: ["pkg:pypi/pyyaml@<5.4", "pkg:npm/event-stream",
                    "pkg:deb/debian/xz-utils@>=5.6.0,<5.6.2", "pkg:golang/golang.org/x/net@<0.17.0"]
    deny-licenses: [AGPL-3.0-only, AGPL-3.0-or-later, SSPL-1.0]
    allow-licenses: [MIT, Apache-2.0, BSD-3-Clause, BSD-2-Clause, ISC, GPL-2.0-only,
                     GPL-2.0-or-later, LGPL-2.1-or-later, MPL-2.0, Zlib]
"""
LICENSES = [
    "MIT",
    "Apache-2.0",
    "BSD-3-Clause",
    "ISC",
    "MIT OR Apache-2.0",
    "GPL-2.0-or-later AND LGPL-2.1-or-later",
    "(MIT OR AGPL-3.0-only) AND Zlib",
    "MPL-2.0",
    "NOASSERTION",
]
ECOSYSTEMS = ["pypi", "npm", "deb", "golang", "maven"]


def _purl(rng: random.Random, n: int) -> tuple[str, str, str]:
    eco = ECOSYSTEMS[n % len(ECOSYSTEMS)]
    version = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}"
    name = f"pkg{n}"
    if eco == "deb":
        version += f"-{rng.randint(1, 5)}"
        return name, version, f"pkg:deb/debian/{name}@{version}?arch=amd64&distro=debian-12"
    if eco == "golang":
        return name, "v" + version, f"pkg:golang/example.com/mod/{name}@v{version}"
    if eco == "maven":
        return name, version, f"pkg:maven/org.example/{name}@{version}"
    return name, version, f"pkg:{eco}/{name}@{version}"


def spdx_document(size: int, seed: int = SEED) -> dict[str, Any]:
    """An SPDX 2.3 document shaped like syft's, with ``size`` packages."""
    rng = random.Random(seed)
    packages = []
    relationships = []
    for n in range(size):
        name, version, purl = _purl(rng, n)
        spdx_id = f"SPDXRef-Package-{n}"
        packages.append(
            {
                "name": name,
                "SPDXID": spdx_id,
                "versionInfo": version,
                "supplier": "Organization: Example",
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False,
                "licenseConcluded": rng.choice(LICENSES),
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "checksums": [{"algorithm": "SHA256", "checksumValue": rng.randbytes(32).hex()}],
                "externalRefs": [
                    {
                        "referenceCategory": "SECURITY",
                        "referenceType": "cpe23Type",
                        "referenceLocator": f"cpe:2.3:a:example:{name}:{version}:*:*:*:*:*:*:*",
                    },
                    {
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": purl,
                    },
                ],
            }
        )
        relationships.append(
            {
                "spdxElementId": "SPDXRef-DOCUMENT",
                "relationshipType": "DESCRIBES",
                "relatedSpdxElement": spdx_id,
            }
        )
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "bench",
        "documentNamespace": f"https://provcheck.invalid/bench/{size}",
        "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: bench"]},
        "packages": packages,
        "relationships": relationships,
    }


def cyclonedx_document(size: int, seed: int = SEED) -> dict[str, Any]:
    """A CycloneDX 1.6 document with ``size`` library components (valid against the schema)."""
    rng = random.Random(seed)
    components = []
    for n in range(size):
        name, version, purl = _purl(rng, n)
        lic = rng.choice(LICENSES)
        licenses: list[dict[str, Any]] = (
            []
            if lic == "NOASSERTION"
            else [{"expression": lic}]
            if " " in lic
            else [{"license": {"id": lic}}]
        )
        components.append(
            {
                "type": "library",
                "bom-ref": f"ref-{n}",
                "name": name,
                "version": version,
                "purl": purl,
                "licenses": licenses,
                "hashes": [{"alg": "SHA-256", "content": rng.randbytes(32).hex()}],
                "properties": [
                    {"name": "syft:package:type", "value": "library"},
                    {"name": "syft:location:0:path", "value": f"/usr/lib/{name}"},
                ],
            }
        )
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {"timestamp": "2026-01-01T00:00:00Z"},
        "components": components,
        "dependencies": [
            {"ref": f"ref-{n}", "dependsOn": [f"ref-{n + 1}"]} for n in range(0, size - 1, 2)
        ],
    }


def statement_bytes(document: dict[str, Any]) -> bytes:
    """The document as the predicate of an in-toto statement bound to :data:`SUBJECT`."""
    predicate_type = (
        "https://cyclonedx.org/bom/v1.6" if "bomFormat" in document else "https://spdx.dev/Document"
    )
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": predicate_type,
        "subject": [{"name": "bench", "digest": {"sha256": SUBJECT}}],
        "predicate": document,
    }
    return json.dumps(statement, separators=(",", ":")).encode()


def _image(data: bytes) -> ImageAttestations:
    """Discovery's result for one platform whose attestation manifest holds ``data``."""
    statement = parse_statement(data)
    image = Descriptor.from_dict(
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": f"sha256:{SUBJECT}",
            "size": 1000,
        }
    )
    layer_desc = Descriptor.from_dict(
        {"mediaType": "application/vnd.in-toto+json", "digest": "sha256:" + "cd" * 32, "size": 1}
    )
    manifest_desc = Descriptor.from_dict(
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + "ef" * 32,
            "size": 1,
        }
    )
    layer = AttestationLayer(
        layer_desc, 0, statement.predicate_type, statement, Binding(BindingStatus.BOUND)
    )
    manifest = AttestationManifest(
        manifest_desc, AttestationForm.LEGACY, AttestationOrigin.INDEX, (layer,)
    )
    platform = PlatformImage(image, Platform("linux", "amd64"), (manifest,))
    return ImageAttestations("bench", "bench", image, (platform,))


def _parse_bytes(data: bytes) -> object:
    return parse_sbom(parse_statement(data))


def _bom_from_json(bom: Any, text: str) -> object:
    """``Bom.from_json`` (added by py-serializable's decorator, so untyped for mypy)."""
    return bom.from_json(json.loads(text))


def _time(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _peak(fn: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    """Print the tables; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--slow", action="store_true", help="also the slow library runs")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    policy = parse_policy(POLICY)

    print("provcheck (best of 3). parse: statement bytes -> Sbom (what inspect does);")
    print("evaluate: the sbom rule on a loaded statement (projection + checks);")
    print("end-to-end: bytes -> report; peak: tracemalloc peak of one end-to-end run\n")
    header = ["format", "components", "MiB JSON", "parse s", "evaluate s", "end-to-end s"]
    print(_row([*header, "peak MiB"]))
    print(_row(["---"] * 7))
    documents: dict[tuple[str, int], dict[str, Any]] = {}
    for fmt, make in (("spdx", spdx_document), ("cyclonedx", cyclonedx_document)):
        for size in sizes:
            doc = make(size)
            documents[(fmt, size)] = doc
            data = statement_bytes(doc)
            parse_s = _time(partial(_parse_bytes, data))
            found = _image(data)
            eval_s = _time(partial(evaluate, found, policy))
            report = evaluate(found, policy)
            assert report.results and report.results[0].rule == "sbom"

            def both(data: bytes = data) -> object:
                return evaluate(_image(data), policy)

            total_s = _time(both)
            peak = _peak(both)
            print(
                _row(
                    [
                        fmt,
                        f"{size:,}",
                        f"{len(data) / 2**20:.1f}",
                        f"{parse_s:.3f}",
                        f"{eval_s:.3f}",
                        f"{total_s:.3f}",
                        f"{peak:.0f}",
                    ]
                )
            )

    print("\nCycloneDX 1.6 validation and parsing, same documents (one run each)\n")
    print(_row(["step", "components", "seconds"]))
    print(_row(["---"] * 3))
    from cyclonedx.model.bom import Bom
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    library = JsonStrictValidator(SchemaVersion.V1_6)
    validate_cyclonedx_schema(cyclonedx_document(10))  # build the validator once
    cdx_sizes = sorted({*sizes, 1000, 5000})
    for size in cdx_sizes:
        doc = documents.get(("cyclonedx", size)) or cyclonedx_document(size)
        text = json.dumps(doc)
        if size <= 10000 or args.slow:
            seconds = _time(partial(validate_cyclonedx_schema, doc), repeat=1)
            print(_row(["provcheck linear schema validation", f"{size:,}", f"{seconds:.2f}"]))
        if size <= 1000 or (args.slow and size <= 5000):
            seconds = _time(partial(library.validate_str, text), repeat=1)
            print(_row(["JsonStrictValidator.validate_str", f"{size:,}", f"{seconds:.2f}"]))
        else:
            print(_row(["JsonStrictValidator.validate_str", f"{size:,}", "skipped (quadratic)"]))
        if size <= 5000:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                seconds = _time(partial(_bom_from_json, Bom, text), repeat=1)
            print(_row(["Bom.from_json(json.loads)", f"{size:,}", f"{seconds:.2f}"]))
        else:
            print(_row(["Bom.from_json(json.loads)", f"{size:,}", "skipped (0.6 ms/component)"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

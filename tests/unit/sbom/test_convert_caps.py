"""The conversion caps: every SBOM of fixtures/ is under them, a document at a cap is taken,
one past it refused by :func:`check_size` with the counts, before anything is built."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from provcheck.errors import ConversionLimitError, SbomError
from provcheck.sbom.convert import (
    MAX_CONVERTED_ELEMENTS,
    MAX_CONVERTED_RELATIONSHIPS,
    check_size,
)
from provcheck.sbom.cyclonedx import parse_cyclonedx
from provcheck.sbom.model import Sbom
from provcheck.sbom.spdx import parse_spdx
from tests.paths import FIXTURES_DIR, REAL_DIR
from tests.unit.sbom.helpers import CYCLONEDX_BOM, cyclonedx_document, spdx_document

SPDX_DOCUMENT = "https://spdx.dev/Document"


def _parse(doc: dict[str, Any]) -> Sbom:
    if "bomFormat" in doc:
        return parse_cyclonedx(doc, CYCLONEDX_BOM)
    return parse_spdx(doc, SPDX_DOCUMENT)


def _fixture_documents() -> Iterator[dict[str, Any]]:
    for path in sorted((FIXTURES_DIR / "sbom").glob("*.json")):
        yield json.loads(path.read_text())
    for path in sorted((FIXTURES_DIR / "sbom-stores" / "documents").glob("*.json")):
        yield json.loads(path.read_text())
    for path in sorted(REAL_DIR.glob("*/inspect.sbom.json")):
        for platform in json.loads(path.read_text()).values():
            if isinstance(platform, dict) and isinstance(platform.get("SPDX"), dict):
                yield platform["SPDX"]


def test_every_fixture_sbom_is_under_the_caps() -> None:
    checked = 0
    for doc in _fixture_documents():
        try:
            sbom = _parse(doc)
        except SbomError:
            continue  # the malformed and unsupported fixtures
        check_size(sbom)
        checked += 1
    assert checked >= 10


def _spdx(packages: int, relationships: int) -> Sbom:
    doc = spdx_document([{"name": f"p{n}"} for n in range(packages)])
    doc["relationships"] = [
        {
            "spdxElementId": "SPDXRef-Package-0",
            "relationshipType": "DEPENDS_ON",
            "relatedSpdxElement": f"SPDXRef-Package-{n % packages}",
        }
        for n in range(relationships)
    ]
    return parse_spdx(doc, SPDX_DOCUMENT)


def _cyclonedx(components: int, depends_on: int) -> Sbom:
    doc = cyclonedx_document([{"type": "library", "name": f"c{n}"} for n in range(components)])
    doc["dependencies"] = [{"ref": "a", "dependsOn": ["b"] * (depends_on - 1)}]
    return parse_cyclonedx(doc, CYCLONEDX_BOM)


def test_at_the_caps_a_document_is_taken() -> None:
    check_size(_spdx(MAX_CONVERTED_ELEMENTS, MAX_CONVERTED_RELATIONSHIPS))
    check_size(_cyclonedx(MAX_CONVERTED_ELEMENTS - 1, MAX_CONVERTED_RELATIONSHIPS))


@pytest.mark.parametrize(
    ("build", "what", "count", "limit"),
    [
        (
            lambda: _spdx(MAX_CONVERTED_ELEMENTS + 1, 1),
            "elements",
            MAX_CONVERTED_ELEMENTS + 1,
            MAX_CONVERTED_ELEMENTS,
        ),
        (
            lambda: _spdx(2, MAX_CONVERTED_RELATIONSHIPS + 1),
            "relationships",
            MAX_CONVERTED_RELATIONSHIPS + 1,
            MAX_CONVERTED_RELATIONSHIPS,
        ),
        (  # the metadata component counts: one more than the components
            lambda: _cyclonedx(MAX_CONVERTED_ELEMENTS, 1),
            "elements",
            MAX_CONVERTED_ELEMENTS + 1,
            MAX_CONVERTED_ELEMENTS,
        ),
        (
            lambda: _cyclonedx(2, MAX_CONVERTED_RELATIONSHIPS + 1),
            "relationships",
            MAX_CONVERTED_RELATIONSHIPS + 1,
            MAX_CONVERTED_RELATIONSHIPS,
        ),
    ],
    ids=["spdx-elements", "spdx-relationships", "cyclonedx-elements", "cyclonedx-dependencies"],
)
def test_past_a_cap_the_document_is_refused_with_its_counts(
    build: Callable[[], Sbom], what: str, count: int, limit: int
) -> None:
    sbom = build()  # built when run, not when collected
    with pytest.raises(ConversionLimitError) as caught:
        check_size(sbom)
    assert (caught.value.what, caught.value.count, caught.value.limit) == (what, count, limit)
    assert f"has {count} {what}, more than the {limit}" in caught.value.diagnostics()

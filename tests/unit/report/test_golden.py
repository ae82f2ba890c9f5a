"""Golden files: the text, JUnit and SARIF reports of real BuildKit images, byte for byte.

``PROVCHECK_UPDATE_GOLDEN=1 pytest tests/unit/report/test_golden.py`` rewrites them; review the
diff before committing it.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Final

import pytest

from provcheck.api import verify_image
from provcheck.policy import load_policy
from provcheck.report import ReportFormat, render
from tests.paths import REPO_ROOT, real_case

GOLDEN: Final = Path(__file__).parent / "golden"
UPDATE: Final = os.environ.get("PROVCHECK_UPDATE_GOLDEN") == "1"
CASES: Final = ("b-multi-max", "c-secrets-max", "e3-syntax-evil")
SUFFIX: Final = {ReportFormat.TEXT: "txt", ReportFormat.JUNIT: "xml", ReportFormat.SARIF: "sarif"}


@pytest.mark.parametrize("fmt", list(SUFFIX))
@pytest.mark.parametrize("case", CASES)
def test_report_matches_its_golden_file(case: str, fmt: ReportFormat) -> None:
    layout = real_case(case) / "oci-layout"
    report = verify_image(
        f"oci-layout://{layout}:1", load_policy(REPO_ROOT / "policies" / "baseline.yaml")
    )
    # The reference names the checkout; the golden file names the same layout relatively.
    report = dataclasses.replace(
        report, reference=f"oci-layout://fixtures/real/{case}/oci-layout:1"
    )
    out = render(report, fmt)
    path = GOLDEN / f"{case}.{SUFFIX[fmt]}"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(out, encoding="utf-8", newline="")
    assert path.is_file(), f"{path} is missing: run with PROVCHECK_UPDATE_GOLDEN=1"
    assert out == path.read_text(encoding="utf-8"), f"{path} differs (PROVCHECK_UPDATE_GOLDEN=1)"

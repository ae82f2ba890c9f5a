"""The server's log: one JSON object a line on standard error."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any


def write_record(record: Mapping[str, Any]) -> None:
    """Write ``record`` as one line of JSON (non-ASCII and control characters escaped) to
    standard error. It must hold no secret: the gate's review records hold none."""
    sys.stderr.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
    sys.stderr.flush()

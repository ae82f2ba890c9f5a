"""kubectl without a cluster, for the checks of deploy/*.yaml.

``kubectl apply --dry-run=client`` (even with ``--validate=false``) needs a server: it reads the
API groups to map each kind to its resource. kubectl's ``--local`` commands need none:
``label --local`` decodes every document (a known apiVersion and kind, valid YAML), and
``set image --local`` decodes an object with a Pod template into kubectl's Go types (a field
of the wrong type is an error) and prints it back, without the fields the types do not have
(a misspelt field is dropped: :func:`missing` finds it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any, Final

from tests.reference_tools import skip_or_fail

OTHER: Final = "other.invalid/provcheck:1"  # set image prints nothing when nothing changes


def kubectl_binary() -> str:
    """The binary; skips (locally) or fails (with ``CI=true``) when it is missing."""
    found = shutil.which("kubectl")
    if found:
        return found
    message = "kubectl not found (apt-get install kubernetes-client)"
    skip_or_fail(message)


def kubectl(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    """Run kubectl with no kubeconfig (so no cluster can be reached) on ``stdin``."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "KUBECONFIG": os.devnull}
    return subprocess.run(
        [kubectl_binary(), *args], input=stdin, capture_output=True, text=True, timeout=60, env=env
    )


def local_names(manifest: str) -> subprocess.CompletedProcess[str]:
    """``kind/name`` of every document, as ``label --local`` decodes them."""
    args = ("label", "--local", "--dry-run=client", "-o", "name", "-f", "-", "x=y")
    return kubectl(*args, stdin=manifest)


def decode(workload: Any) -> subprocess.CompletedProcess[str]:
    """``kubectl set image --local``: ``workload`` (an object with a Pod template) decoded into
    kubectl's Go types and printed back as JSON, every image swapped for :data:`OTHER`."""
    args = ("set", "image", "--local", "--dry-run=client", "-o", "json", "-f", "-", f"*={OTHER}")
    return kubectl(*args, stdin=json.dumps(workload))


def missing(given: Any, decoded: Any, where: str = "") -> Iterator[str]:
    """The paths of ``given`` that ``decoded`` does not hold (defaults added are fine)."""
    if isinstance(given, dict):
        for key, value in given.items():
            if not isinstance(decoded, dict) or key not in decoded:
                yield f"{where}/{key}"
            else:
                yield from missing(value, decoded[key], f"{where}/{key}")
    elif isinstance(given, list):
        if not isinstance(decoded, list) or len(decoded) != len(given):
            yield where
        else:
            for index, (one, other) in enumerate(zip(given, decoded, strict=True)):
                yield from missing(one, other, f"{where}/{index}")
    elif str(given) != str(decoded):
        yield f"{where}: {given!r} became {decoded!r}"

"""The library calls take the same options, sync and async: limits, offload and credentials
reach discovery from every entry point (real images: layouts, and a TLS + basic-auth
docker-registry for credentials)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import provcheck
from provcheck import (
    AuthenticationError,
    Credentials,
    DiscoveryOptions,
    LimitExceededError,
    Limits,
    RegistryOptions,
    Report,
    StaticCredentials,
    Verdict,
    load_policy,
    parse_policy,
)
from tests.integration.test_registry_auth_cli import (  # noqa: F401 (fixtures)
    PASSWORD,
    USER,
    ca,
    ca_file,
    secure_registry,
)
from tests.integration.test_verification_offload import verifying_threads  # noqa: F401
from tests.paths import REAL_DIR

G = f"oci-layout://{REAL_DIR / 'g-sbom-generator' / 'oci-layout'}:1"
I_COSIGN = REAL_DIR / "i-cosign"
TINY = Limits(max_descriptors=2)  # the root index of either image lists more
SBOM_POLICY = "apiVersion: provcheck/v1\nkind: Policy\nname: t\nrules:\n  sbom: {}\n"


def _run(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    result = call(*args, **kwargs)
    return asyncio.run(result) if asyncio.iscoroutine(result) else result


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_limits_bound_every_entry_point(sync: bool) -> None:
    suffix = "" if sync else "_async"
    policy = parse_policy(SBOM_POLICY)
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("inspect_image", (G,), {"options": DiscoveryOptions(limits=TINY)}),
        ("verify_image", (G, policy), {"limits": TINY}),
        ("sbom_image", (G,), {"limits": TINY}),
    ]
    for name, args, kwargs in calls:
        with pytest.raises(LimitExceededError, match="more than 2 descriptors"):
            _run(getattr(provcheck, name + suffix), *args, **kwargs)
    # and without them, the same calls read the image
    assert _run(getattr(provcheck, "verify_image" + suffix), G, policy).verdict is Verdict.PASS
    assert len(_run(getattr(provcheck, "sbom_image" + suffix), G).sboms) == 2


def _cosign_policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    key = os.path.relpath(I_COSIGN / "cosign.pub", tmp_path)
    path.write_text(
        "apiVersion: provcheck/v1\nkind: Policy\nname: t\nrules:\n"
        f"  signatures:\n    required: true\n    keys: [{key}]\n"
        "  provenance:\n    required: true\n    min-trust: signed\n"
    )
    return path


def test_verify_offloads_signature_checks_as_asked(
    tmp_path: Path,
    verifying_threads: list[threading.Thread],  # noqa: F811
) -> None:
    reference = f"oci-layout://{I_COSIGN / 'oci-layout'}:1"
    policy = load_policy(_cosign_policy(tmp_path))

    async def verify(offload: bool | ThreadPoolExecutor) -> tuple[Report, int]:
        report = await provcheck.verify_image_async(reference, policy, offload=offload)
        return report, threading.get_ident()

    inline, loop = asyncio.run(verify(False))
    assert inline.verdict is Verdict.PASS, [(r.rule, r.message) for r in inline.results]
    assert verifying_threads and {t.ident for t in verifying_threads} == {loop}
    verifying_threads.clear()
    with ThreadPoolExecutor(1, thread_name_prefix="verify") as pool:
        off, loop = asyncio.run(verify(pool))
    assert {t.name.split("_")[0] for t in verifying_threads} == {"verify"}
    assert off == inline
    verifying_threads.clear()
    assert provcheck.verify_image(reference, policy, offload=True) == inline
    assert verifying_threads and threading.current_thread() not in verifying_threads


def test_sync_calls_take_credentials(secure_registry: str, ca_file: Path) -> None:  # noqa: F811
    reference = f"{secure_registry}/lab/a-single-min:1"
    registry = RegistryOptions(ca_file=ca_file, docker_config_dir=Path("/nonexistent/docker"))
    with pytest.raises(AuthenticationError):
        provcheck.inspect_image(reference, registry=registry)  # anonymous
    credentials = StaticCredentials({secure_registry: Credentials(USER, PASSWORD)})
    found = provcheck.inspect_image(reference, registry=registry, credentials=credentials)
    assert [image.platform.key for image in found.images] == ["linux/amd64"]
    policy = parse_policy(
        "apiVersion: provcheck/v1\nkind: Policy\nname: t\nrules:\n  provenance: {}\n"
    )
    report = provcheck.verify_image(reference, policy, registry=registry, credentials=credentials)
    assert report.digest == str(found.digest)
    with pytest.raises(AuthenticationError):
        provcheck.verify_image(reference, policy, registry=registry)

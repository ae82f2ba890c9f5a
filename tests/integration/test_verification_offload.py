"""``DiscoveryOptions.offload``: signature verification inline on the event loop (the default,
the CLI) or off it (a worker thread, or a given executor), with the same outcome. Real signed
image i-cosign (cosign ``.att``/``.sig`` tags) and DSSE layers inside an index."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from provcheck.api import inspect_image_async
from provcheck.attestation.keys import PublicKey, load_public_key
from provcheck.attestation.signatures import TrustConfig
from provcheck.discovery.model import ImageAttestations, TrustLevel
from provcheck.discovery.offload import Offload
from provcheck.discovery.options import DiscoveryOptions
from tests.integration.test_in_index_dsse import SIGNER, build, trusted
from tests.paths import FIXTURES_DIR

I_COSIGN = FIXTURES_DIR / "real" / "i-cosign"
TRUST = TrustConfig((load_public_key(I_COSIGN / "cosign.pub"),))


@pytest.fixture
def verifying_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[threading.Thread]]:
    """The thread of every public-key signature check."""
    threads: list[threading.Thread] = []
    original = PublicKey.verify

    def record(self: PublicKey, signature: bytes, message: bytes) -> None:
        threads.append(threading.current_thread())
        original(self, signature, message)

    monkeypatch.setattr(PublicKey, "verify", record)
    yield threads


async def _inspect(reference: str, options: DiscoveryOptions) -> tuple[ImageAttestations, int]:
    """The attestations, and the id of the thread running the event loop."""
    found = await inspect_image_async(reference, options=options)
    return found, threading.get_ident()


def _signed_statements(found: ImageAttestations) -> list[str]:
    return sorted(
        layer.signature.covers or ""
        for image in found.images
        for m in image.attestations
        for layer in m.layers
        if layer.trust is TrustLevel.SIGNED and layer.signature is not None
    )


@pytest.mark.parametrize("offload", [True, "executor"])
def test_store_signatures_verify_off_the_event_loop_with_the_same_outcome(
    offload: bool | str, verifying_threads: list[threading.Thread]
) -> None:
    reference = f"oci-layout://{I_COSIGN / 'oci-layout'}:1"
    options = DiscoveryOptions(signature_stores=True, trust=TRUST)
    inline, loop_thread = asyncio.run(_inspect(reference, options))
    assert verifying_threads and {t.ident for t in verifying_threads} == {loop_thread}
    verifying_threads.clear()
    with ThreadPoolExecutor(1, thread_name_prefix="verify") as pool:
        chosen: Offload = pool if offload == "executor" else True
        off, loop_thread = asyncio.run(
            _inspect(reference, dataclasses.replace(options, offload=chosen))
        )
    assert verifying_threads and loop_thread not in {t.ident for t in verifying_threads}
    if offload == "executor":
        assert {t.name.split("_")[0] for t in verifying_threads} == {"verify"}
    assert off == inline
    assert len(_signed_statements(off)) == 2  # one cosign statement per platform


def test_in_index_envelopes_verify_off_the_event_loop(
    tmp_path: Path, verifying_threads: list[threading.Thread]
) -> None:
    layout = build(tmp_path, SIGNER)
    options = DiscoveryOptions(trust=trusted(SIGNER), offload=True)
    found, loop_thread = asyncio.run(_inspect(layout.tagged, options))
    assert len(_signed_statements(found)) == 2
    assert verifying_threads and loop_thread not in {t.ident for t in verifying_threads}
    inline, _ = asyncio.run(_inspect(layout.tagged, dataclasses.replace(options, offload=False)))
    assert inline == found

"""Where CPU-bound verification work runs: inline, or off the event loop.

Verifying signatures (DSSE, ECDSA/RSA/Ed25519, transparency-log proofs, keyless bundles),
parsing a large statement (a 7 MB SPDX SBOM takes about a second) and evaluating a policy on
it are pure CPU work. Inline it costs nothing extra, which suits the CLI (one image, nothing else
waiting); a server verifying many images on one event loop runs it in a worker thread instead
(:attr:`~provcheck.discovery.options.DiscoveryOptions.offload`), so that other requests are
served meanwhile.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Final, ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")

INLINE_STATEMENT_BYTES: Final = 64 * 1024
"""Statements up to this size are parsed where the caller runs even when offloading (a
thread hop would cost more than the parse); larger ones where ``offload`` says."""

Offload = bool | Executor
"""``False``: inline; ``True``: a worker thread (``asyncio.to_thread``, the loop's default
executor); an :class:`~concurrent.futures.Executor`: that one (a thread pool: what runs there
is not picklable)."""


async def run_verification(
    offload: Offload, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """``fn(*args, **kwargs)``, inline or off the event loop as ``offload`` says."""
    if offload is False:
        return fn(*args, **kwargs)
    if offload is True:
        return await asyncio.to_thread(fn, *args, **kwargs)
    assert isinstance(offload, Executor)
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(offload, call)

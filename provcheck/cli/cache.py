"""``provcheck cache info|prune|clear``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from provcheck.cli.common import (
    ExitCode,
    Parser,
    add_cache_options,
    add_verbose,
    open_cli_cache,
    write_output,
)

if TYPE_CHECKING:
    pass


def add(commands: Any) -> None:
    """``provcheck cache info|prune|clear``."""
    cache = commands.add_parser(
        "cache",
        help="look after the cache",
        description="Show, prune or clear the content and verdicts cache.",
    )
    actions = cache.add_subparsers(
        dest="cache_command",
        required=True,
        parser_class=Parser,
        metavar="COMMAND",
        help="provcheck cache COMMAND --help shows its options",
    )
    for name, text in (
        ("info", "count the entries and their size"),
        ("prune", "remove expired, orphaned and least recently used entries"),
        ("clear", "remove every entry"),
    ):
        action = actions.add_parser(name, help=text, description=text.capitalize() + ".")
        add_cache_options(action, default=None)
        add_verbose(action, f"verbose_cache_{name}")
    add_verbose(cache, "verbose_cache")
    cache.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    """``provcheck cache info|prune|clear``."""
    import asyncio

    async def run() -> str:
        cache = open_cli_cache(args)
        try:
            if args.cache_command == "info":
                info = await cache.info()
                return (
                    f"cache: {info.location}\n"
                    f"content: {info.blobs} entries, {info.blob_bytes} bytes\n"
                    f"verdicts: {info.verdicts} entries, {info.verdict_bytes} bytes"
                    f"{'' if info.verdicts_enabled else ' (verdict caching off: no HMAC key)'}\n"
                    f"bound: {info.bound}\n"
                )
            done = await (cache.prune() if args.cache_command == "prune" else cache.clear())
            return f"{cache.location}: removed {done.removed} entries ({done.freed} bytes)\n"
        finally:
            await cache.aclose()

    write_output(asyncio.run(run()), None)
    return ExitCode.PASS

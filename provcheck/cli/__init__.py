"""The ``provcheck`` command line: argument parsing, output, exit codes. Nothing else.

Exit codes (:data:`~provcheck.cli.common.EXIT_CODES`): 0 pass, 1 policy violation, 2 usage,
policy or input-file error, 3 fetch or verification error (3 beats 1), 130 interrupted, 141
stdout closed by its reader. Every error is one line on stderr, an unexpected one too (exit 3,
fail closed); ``-vv`` adds the traceback.

One module a command (``add(commands)`` adds its parser, whose ``run`` default runs it);
:mod:`~provcheck.cli.common` holds what they share, :mod:`~provcheck.cli.main` the rest.
"""

from __future__ import annotations

from provcheck.cli.common import ExitCode
from provcheck.cli.main import entrypoint, main

__all__ = ["ExitCode", "entrypoint", "main"]

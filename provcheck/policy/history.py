"""The build-arg assignments BuildKit writes into an image config's ``history``.

BuildKit (``frontend/dockerfile/dockerfile2llb/convert.go``) writes, without any quoting:

* ``dispatchArg``: one record per ``ARG`` instruction, ``"ARG " + " ".join(items)`` where an
  item is ``NAME`` (no value) or ``NAME=value``;
* ``runCommandString``: ``"RUN |N NAME1=v1 … NAMEN=vN " + " ".join(args)`` where the N distinct
  names are every ``ARG`` of the stage so far and each value is the one the ``ARG`` (or a later
  ``ENV`` of the same name) set;
* ``dispatchEnv``: ``"ENV " + " ".join(NAME=value)``, which keeps a value that a later ``ENV``
  replaced and the config's ``Env`` no longer shows.

Values may hold spaces and ``=``, so a record is not split on spaces alone (``ENV`` records are
read like ``ARG`` records without a Dockerfile):

* an ``ARG`` record that fits one of the Dockerfile's ``ARG`` instructions (max-mode provenance
  records the Dockerfile: same names, in order, each as ``NAME`` or ``NAME=…``) is split at
  exactly those names. A ``RUN |N`` record whose first name is known is split only at known
  names (the Dockerfile's, the provenance's build args, those of the history's earlier ``ARG``
  records) into exactly N items;
* otherwise (min mode, base-image records) an item starts at a space followed by ``NAME=``
  (``[A-Za-z_][A-Za-z0-9_]*``, not yet used in the record), in an ``ARG`` record also at a bare
  ``NAME`` after a name without a value. A bare word after a value belongs to that value; so
  does a ``word=`` after a non-empty value of a secret-looking name, unless ``word`` looks
  secret too: ``DB_PASSWORD=correct horse battery=staple`` is one password, not a password and
  a ``battery`` whose name would print a piece of it.

Neither gluing nor the Dockerfile's names can hide a secret: the reading split at every
``NAME=`` is checked too whenever the first reading shows no secret (:attr:`HistoryRecord.other`),
unless every value of the first reading is exactly the one recorded for its name (provenance
build args; for ``RUN``, also the earlier ``ARG`` records). The limit: without the Dockerfile, a
value holding `` word=…`` after a name that does not look secret is split there, and ``word`` is
reported as a name if its part looks secret.

The last value of a ``RUN |N`` record runs into the command. It ends where the value the
history's earlier ``ARG`` record (or the provenance) gave that name ends, else before the shell
(the image's ``Shell``, ``/bin/sh -c``, ``cmd /S /C``), else at the first space. The command
text itself is never read.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Final

from provcheck._internal.secrets import name_is_secret

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RUN_ARGS: Final = re.compile(r"RUN \|(\d{1,4}) (.*)", re.DOTALL)
_DEFAULT_SHELLS: Final[tuple[str, ...]] = ("/bin/sh -c", "cmd /S /C")
_ARG_INSTRUCTION: Final = re.compile(r"\s*ARG\s+(.*)", re.IGNORECASE | re.DOTALL)
_ESCAPE_DIRECTIVE: Final = re.compile(r"#\s*escape\s*=\s*(\S)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """The ``(NAME, value)`` items of history record ``index``.

    ``args`` is the best reading (the Dockerfile's names when they fit). ``other`` holds the
    items the record alone reads differently; they matter only if ``args`` shows no secret,
    since a record that only looks like one of this Dockerfile (a base image's) must not hide
    a secret behind the Dockerfile's names. ``other`` is empty when every item of ``args``
    has exactly the value the provenance (or, for ``RUN``, an earlier ``ARG`` record) gives.
    """

    index: int
    args: tuple[tuple[str, str], ...]
    other: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class DeclaredArgs:
    """What the build says about its ``ARG`` names, when it says anything.

    ``instructions``: the name lists of the Dockerfile's ``ARG`` instructions, in order;
    ``values``: build-arg values recorded in the provenance.
    """

    instructions: tuple[tuple[str, ...], ...] = ()
    values: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        """Every name a Dockerfile ``ARG`` instruction declares."""
        return frozenset(name for names in self.instructions for name in names)


def dockerfile_arg_names(dockerfile: str) -> tuple[tuple[str, ...], ...]:
    """The name lists of ``dockerfile``'s ``ARG`` instructions (continuation lines joined)."""
    lines = dockerfile.splitlines()
    escape = "\\"
    for line in lines:
        if not line.startswith("#"):
            break
        directive = _ESCAPE_DIRECTIVE.match(line)
        if directive:
            escape = directive.group(1)
    out: list[tuple[str, ...]] = []
    for instruction in _instructions(lines, escape):
        match = _ARG_INSTRUCTION.fullmatch(instruction)
        if not match:
            continue
        try:
            words = shlex.split(match.group(1), comments=False, posix=True)
        except ValueError:
            words = match.group(1).split()
        names = tuple(word.partition("=")[0] for word in words)
        if names and all(names):
            out.append(names)
    return tuple(out)


def _instructions(lines: Sequence[str], escape: str) -> Iterator[str]:
    parts: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith(escape):
            parts.append(stripped[: -len(escape)])
            continue
        parts.append(stripped)
        yield " ".join(parts)
        parts = []
    if parts:
        yield " ".join(parts)


def history_records(config: Mapping[str, Any], declared: DeclaredArgs) -> list[HistoryRecord]:
    """The ``ARG``, ``ENV`` and ``RUN |N`` records of ``config.history`` that assign values."""
    history = config.get("history")
    if not isinstance(history, list):
        return []
    inner = config.get("config")
    shell = inner.get("Shell") if isinstance(inner, dict) else None
    shells = _DEFAULT_SHELLS
    if isinstance(shell, list) and shell and all(isinstance(word, str) for word in shell):
        shells = (" ".join(shell), *_DEFAULT_SHELLS)
    known: dict[str, str] = dict(declared.values)
    names = set(declared.names | known.keys())
    out: list[HistoryRecord] = []
    for index, item in enumerate(history):
        created = item.get("created_by") if isinstance(item, dict) else None
        if not isinstance(created, str):
            continue
        if created.startswith("ARG "):
            items = _arg_items(created[4:], declared.instructions, glue=True)
            names.update(name for name, _ in items)
            best = _valued(items)
            confirmed = _confirmed(best, declared.values)
            plain = [] if confirmed else _valued(_arg_items(created[4:], (), glue=False))
            known.update(best)
        elif created.startswith("ENV "):
            best = _valued(_arg_items(created[4:], (), glue=True))
            plain = _valued(_arg_items(created[4:], (), glue=False))
            known.update(best)
        else:
            best = run_record(created, names, known, shells)
            confirmed = _confirmed(best, known)
            plain = [] if confirmed else run_record(created, frozenset(), known, shells)
        if best or plain:
            seen = set(best)
            other = tuple(pair for pair in plain if pair not in seen)
            out.append(HistoryRecord(index, tuple(best), other))
    return out


def _confirmed(items: Sequence[tuple[str, str]], values: Mapping[str, str]) -> bool:
    """Some items, and every one of them has the value recorded elsewhere for its name.

    Independent evidence that the record was read right: the ``other`` reading is then moot.
    """
    return bool(items) and all(values.get(name) == value for name, value in items)


def arg_record(body: str, instructions: Sequence[Sequence[str]] = ()) -> list[tuple[str, str]]:
    """The ``NAME=value`` items of an ``ARG`` record's ``body`` (items without a value dropped)."""
    return _valued(_arg_items(body, instructions, glue=True))


def _valued(items: Sequence[tuple[str, str | None]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in items if value is not None and name]


def _arg_items(
    body: str, instructions: Sequence[Sequence[str]], *, glue: bool
) -> list[tuple[str, str | None]]:
    """Items of an ``ARG`` record, split at the longest fitting instruction's names or by syntax.

    With ``glue``, a ``word=`` after a non-empty value of a secret-looking name stays in that
    value unless ``word`` looks secret too: ``DB_PASSWORD=correct horse battery=staple`` is one
    password, not a password and a ``battery`` arg whose name would print a piece of it.
    """
    for names in sorted(instructions, key=len, reverse=True):
        fitted = _split_at_names(body, names)
        if fitted is not None:
            return fitted
    items: list[tuple[str, list[str] | None]] = []
    used: set[str] = set()
    secret: dict[str, bool] = {}

    def is_secret(name: str) -> bool:
        if name not in secret:
            secret[name] = name_is_secret(name)
        return secret[name]

    for token in body.split(" "):
        name, sep, value = token.partition("=")
        if items:
            last_name, parts = items[-1]
            starts = (
                _NAME.fullmatch(name) is not None
                and bool(sep or parts is None)
                and name not in used
                and not (
                    glue
                    and parts is not None
                    and parts != [""]
                    and is_secret(last_name)
                    and not is_secret(name)
                )
            )
            if not starts:
                if parts is not None:
                    parts.append(token)
                continue
        items.append((name, [value] if sep else None))
        used.add(name)
    return [(name, None if parts is None else " ".join(parts)) for name, parts in items]


def _split_at_names(body: str, names: Sequence[str]) -> list[tuple[str, str | None]] | None:
    """Split ``body`` as BuildKit wrote ``names`` into it, or ``None`` if it does not fit."""
    if not names or not body.startswith(names[0]):
        return None
    items: list[tuple[str, str | None]] = []
    pos = 0
    for i, name in enumerate(names):
        if not body.startswith(name, pos):
            return None
        pos += len(name)
        if i + 1 < len(names):
            nxt = _next_item(body, names[i + 1], pos)
            if nxt is None:
                return None
        else:
            nxt = len(body)
        if pos == nxt:
            items.append((name, None))
        elif body[pos] == "=":
            items.append((name, body[pos + 1 : nxt]))
        else:
            return None
        pos = nxt + (1 if i + 1 < len(names) else 0)
    return items


def _next_item(body: str, name: str, pos: int) -> int | None:
    """Index of the space before the item ``name`` (``name=`` or bare ``name``) after ``pos``."""
    match = re.compile(f" {re.escape(name)}(?==| |\\Z)").search(body, pos)
    return match.start() if match else None


def run_record(
    created_by: str,
    names: AbstractSet[str] = frozenset(),
    known: Mapping[str, str] | None = None,
    shells: Sequence[str] = _DEFAULT_SHELLS,
) -> list[tuple[str, str]]:
    """The N ``NAME=value`` items of a ``RUN |N …`` record; ``[]`` for any other record."""
    match = _RUN_ARGS.match(created_by)
    if not match:
        return []
    count, body = int(match.group(1)), match.group(2)
    first = body.partition("=")[0]
    if names and first in names:
        items = _run_items(body, count, lambda name: name in names)
        if items is not None:
            return _last_value(items, known or {}, shells)
    items = _run_items(body, count, lambda name: _NAME.fullmatch(name) is not None)
    return _last_value(items, known or {}, shells) if items is not None else []


def _run_items(
    body: str, count: int, is_name: Callable[[str], bool]
) -> list[tuple[str, str]] | None:
    """The first ``count`` items; the last one's value still holds the command."""
    tokens = body.split(" ")
    starts: list[tuple[str, int]] = []
    used: set[str] = set()
    for i, token in enumerate(tokens):
        if len(starts) == count:
            break
        name, sep, _ = token.partition("=")
        if sep and (i == 0 or (is_name(name) and name not in used)):
            starts.append((name, i))
            used.add(name)
        elif i == 0:
            return None
    if len(starts) != count:
        return None
    ends = [i for _, i in starts[1:]] + [len(tokens)]
    return [
        (name, " ".join(tokens[i:end]).partition("=")[2])
        for (name, i), end in zip(starts, ends, strict=True)
    ]


def _last_value(
    items: list[tuple[str, str]], known: Mapping[str, str], shells: Sequence[str]
) -> list[tuple[str, str]]:
    """Cut the command off the last value (see the module docstring)."""
    name, rest = items[-1]
    value = known.get(name)
    if value is None or not (rest == value or rest.startswith(value + " ")):
        found = (re.search(f" {re.escape(sh)}(?: |\\Z)", rest) for sh in shells)
        ends = [m.start() for m in found if m]
        value = rest[: min(ends)] if ends else rest.partition(" ")[0]
    return [*items[:-1], (name, value)]

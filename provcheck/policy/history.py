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

The work is linear in the size of the history and the Dockerfile: an ``ARG`` record is tried
only against the instructions whose first name it starts with (indexed once per history), and
no pattern is compiled per name. Whatever the input, at most :data:`MAX_HISTORY_RECORDS`
records and :data:`MAX_FIT_WORK` characters of fits are read; past either,
:attr:`HistoryReading.unread` says what was left (and ``build-args`` is ``incomplete``).
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
_LEAD: Final = re.compile(r"[^= ]*")

MAX_HISTORY_RECORDS: Final = 10_000
"""History records read at most (a BuildKit image has one per Dockerfile instruction, of every
stage up to its base images'); past it the reading says what it left unread."""
MAX_FIT_WORK: Final = 1 << 24
"""Characters of ``ARG`` record bodies matched against Dockerfile ``ARG`` instructions, at most,
per history: each instruction tried on a record costs the record's length (an upper bound of the
scan). Only many instructions with the same first name reach it; past it, as past
:data:`MAX_HISTORY_RECORDS`."""


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
    _by_lead: Mapping[str, tuple[tuple[str, ...], ...]] = field(
        init=False, repr=False, compare=False
    )
    """The distinct instructions by the lead of their first name (see :meth:`candidates`)."""

    def __post_init__(self) -> None:
        groups: dict[str, list[tuple[str, ...]]] = {}
        for names in dict.fromkeys(self.instructions):
            if names:
                groups.setdefault(_lead(names[0]), []).append(names)
        # longest first; the sort is stable, so instructions of one length stay in order
        by_lead = {k: tuple(sorted(v, key=len, reverse=True)) for k, v in groups.items()}
        object.__setattr__(self, "_by_lead", by_lead)

    @property
    def names(self) -> frozenset[str]:
        """Every name a Dockerfile ``ARG`` instruction declares."""
        return frozenset(name for names in self.instructions for name in names)

    def candidates(self, body: str) -> tuple[tuple[str, ...], ...]:
        """The instructions that may fit the ``ARG`` record ``body``, longest first.

        One fits only if ``body`` starts with its first name followed by ``=``, a space or the
        end, so both start with the same text up to the first ``=`` or space (the lead).
        """
        return self._by_lead.get(_lead(body), ())


def _lead(text: str) -> str:
    """``text`` up to its first ``=`` or space."""
    match = _LEAD.match(text)
    assert match is not None  # the pattern matches the empty string
    return match.group()


@dataclass(frozen=True, slots=True)
class HistoryReading:
    """The records of a history that assign values, and what was left unread."""

    records: tuple[HistoryRecord, ...]
    unread: str | None = None
    """Why part of the history was not read (see :data:`MAX_HISTORY_RECORDS`), else ``None``."""


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


def history_records(
    config: Mapping[str, Any],
    declared: DeclaredArgs,
    *,
    max_records: int = MAX_HISTORY_RECORDS,
    max_fit_work: int = MAX_FIT_WORK,
) -> HistoryReading:
    """The ``ARG``, ``ENV`` and ``RUN |N`` records of ``config.history`` that assign values.

    Reads at most ``max_records`` records and ``max_fit_work`` characters of instruction fits;
    the reading says what it left unread. The work is linear in the history's size.
    """
    history = config.get("history")
    if not isinstance(history, list):
        return HistoryReading(())
    inner = config.get("config")
    shell = inner.get("Shell") if isinstance(inner, dict) else None
    shells = _DEFAULT_SHELLS
    if isinstance(shell, list) and shell and all(isinstance(word, str) for word in shell):
        shells = (" ".join(shell), *_DEFAULT_SHELLS)
    patterns = _shell_patterns(shells)
    known: dict[str, str] = dict(declared.values)
    names = set(declared.names | known.keys())
    out: list[HistoryRecord] = []
    work = 0
    unread = None
    if len(history) > max_records:
        unread = f"{len(history) - max_records} of {len(history)} history records not read "
        unread += f"(at most {max_records} are)"
    for index, item in enumerate(history[:max_records]):
        created = item.get("created_by") if isinstance(item, dict) else None
        if not isinstance(created, str):
            continue
        if created.startswith("ARG "):
            candidates = declared.candidates(created[4:])
            work += len(candidates) * len(created)
            if work > max_fit_work:
                unread = f"history records from {index} on not read: matching them against the "
                unread += f"Dockerfile's ARG instructions is over {max_fit_work} characters"
                break
            items = _arg_items(created[4:], candidates, glue=True)
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
            best = _run_record(created, names, known, patterns)
            confirmed = _confirmed(best, known)
            plain = [] if confirmed else _run_record(created, frozenset(), known, patterns)
        if best or plain:
            seen = set(best)
            other = tuple(pair for pair in plain if pair not in seen)
            out.append(HistoryRecord(index, tuple(best), other))
    return HistoryReading(tuple(out), unread)


def _confirmed(items: Sequence[tuple[str, str]], values: Mapping[str, str]) -> bool:
    """Some items, and every one of them has the value recorded elsewhere for its name.

    Independent evidence that the record was read right: the ``other`` reading is then moot.
    """
    return bool(items) and all(values.get(name) == value for name, value in items)


def arg_record(body: str, instructions: Sequence[Sequence[str]] = ()) -> list[tuple[str, str]]:
    """The ``NAME=value`` items of an ``ARG`` record's ``body`` (items without a value dropped)."""
    declared = DeclaredArgs(tuple(tuple(names) for names in instructions))
    return _valued(_arg_items(body, declared.candidates(body), glue=True))


def _valued(items: Sequence[tuple[str, str | None]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in items if value is not None and name]


def _arg_items(
    body: str, candidates: Sequence[Sequence[str]], *, glue: bool
) -> list[tuple[str, str | None]]:
    """Items of an ``ARG`` record, split at the names of the first fitting candidate instruction
    (:meth:`DeclaredArgs.candidates`: longest first) or by syntax.

    With ``glue``, a ``word=`` after a non-empty value of a secret-looking name stays in that
    value unless ``word`` looks secret too: ``DB_PASSWORD=correct horse battery=staple`` is one
    password, not a password and a ``battery`` arg whose name would print a piece of it.
    """
    for names in candidates:
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
    """Index of the space before the item ``name`` (``name=`` or bare ``name``) after ``pos``.

    A plain search (no regex to compile per name): each candidate is looked at once.
    """
    needle = f" {name}"
    at = body.find(needle, pos)
    while at >= 0:
        after = at + len(needle)
        if after == len(body) or body[after] in "= ":
            return at
        at = body.find(needle, at + 1)
    return None


def run_record(
    created_by: str,
    names: AbstractSet[str] = frozenset(),
    known: Mapping[str, str] | None = None,
    shells: Sequence[str] = _DEFAULT_SHELLS,
) -> list[tuple[str, str]]:
    """The N ``NAME=value`` items of a ``RUN |N …`` record; ``[]`` for any other record."""
    return _run_record(created_by, names, known or {}, _shell_patterns(shells))


def _shell_patterns(shells: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    """Where each shell starts the command in a ``RUN`` record (compiled once per history)."""
    return tuple(re.compile(f" {re.escape(sh)}(?: |\\Z)") for sh in shells)


def _run_record(
    created_by: str,
    names: AbstractSet[str],
    known: Mapping[str, str],
    shells: Sequence[re.Pattern[str]],
) -> list[tuple[str, str]]:
    match = _RUN_ARGS.match(created_by)
    if not match:
        return []
    count, body = int(match.group(1)), match.group(2)
    first = body.partition("=")[0]
    if names and first in names:
        items = _run_items(body, count, lambda name: name in names)
        if items is not None:
            return _last_value(items, known, shells)
    items = _run_items(body, count, lambda name: _NAME.fullmatch(name) is not None)
    return _last_value(items, known, shells) if items is not None else []


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
    items: list[tuple[str, str]], known: Mapping[str, str], shells: Sequence[re.Pattern[str]]
) -> list[tuple[str, str]]:
    """Cut the command off the last value (see the module docstring)."""
    name, rest = items[-1]
    value = known.get(name)
    if value is None or not (rest == value or rest.startswith(value + " ")):
        found = (sh.search(rest) for sh in shells)
        ends = [m.start() for m in found if m]
        value = rest[: min(ends)] if ends else rest.partition(" ")[0]
    return [*items[:-1], (name, value)]

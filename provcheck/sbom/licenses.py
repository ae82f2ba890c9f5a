"""SPDX license expressions: parsing and evaluation against allow and deny lists.

``MIT OR GPL-3.0-only`` is acceptable when one branch is; ``A AND B`` needs both;
``GPL-2.0-only WITH Classpath-exception-2.0`` is matched by its license (``GPL-2.0-only``) or by
the whole ``… WITH …`` term, and an exact ``… WITH …`` entry in the allow list wins over its
license in the deny list. Identifiers compare case-insensitively; identifiers deprecated by SPDX
are read as their current equivalent (:data:`DEPRECATED_LICENSES`: ``GPL-2.0`` is
``GPL-2.0-only``, ``GPL-2.0+`` is ``GPL-2.0-or-later``, ``GPL-2.0-with-classpath-exception`` is
``GPL-2.0-only WITH Classpath-exception-2.0``), in SBOMs and in allow and deny lists alike;
another ``X+`` matches an entry ``X+`` or ``X``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Final

from provcheck.errors import SbomError
from provcheck.sbom.model import NO_ASSERTION

MAX_EXPRESSION_LENGTH: Final = 4096
_TOKEN: Final = re.compile(r"\s*(?:(\()|(\))|([A-Za-z0-9][A-Za-z0-9.\-:+]*))")
# Source: the SPDX License List (github.com/spdx/license-list-data, json/licenses.json: the ids
# with "isDeprecatedLicenseId": true; json/details/<id>.json "licenseComments" names the
# replacement, e.g. "DEPRECATED: Use license expression including main license, "WITH" operator,
# and identifier: Classpath-exception-2.0"). The GNU ids without -only/-or-later were deprecated
# in list 3.0 (a bare id meant "only", "+" "or later"); the "+" forms of AGPL and GFDL are the
# "+" operator on those ids. Only ids with one current equivalent are here: wxWindows (its main
# license is not named), Nunit and the other deprecated ids without a named replacement are not.
DEPRECATED_LICENSES: Final[Mapping[str, tuple[str, str | None]]] = {
    "AGPL-1.0": ("AGPL-1.0-only", None),
    "AGPL-1.0+": ("AGPL-1.0-or-later", None),
    "AGPL-3.0": ("AGPL-3.0-only", None),
    "AGPL-3.0+": ("AGPL-3.0-or-later", None),
    "GFDL-1.1": ("GFDL-1.1-only", None),
    "GFDL-1.1+": ("GFDL-1.1-or-later", None),
    "GFDL-1.2": ("GFDL-1.2-only", None),
    "GFDL-1.2+": ("GFDL-1.2-or-later", None),
    "GFDL-1.3": ("GFDL-1.3-only", None),
    "GFDL-1.3+": ("GFDL-1.3-or-later", None),
    "GPL-1.0": ("GPL-1.0-only", None),
    "GPL-1.0+": ("GPL-1.0-or-later", None),
    "GPL-2.0": ("GPL-2.0-only", None),
    "GPL-2.0+": ("GPL-2.0-or-later", None),
    "GPL-3.0": ("GPL-3.0-only", None),
    "GPL-3.0+": ("GPL-3.0-or-later", None),
    "LGPL-2.0": ("LGPL-2.0-only", None),
    "LGPL-2.0+": ("LGPL-2.0-or-later", None),
    "LGPL-2.1": ("LGPL-2.1-only", None),
    "LGPL-2.1+": ("LGPL-2.1-or-later", None),
    "LGPL-3.0": ("LGPL-3.0-only", None),
    "LGPL-3.0+": ("LGPL-3.0-or-later", None),
    "GPL-2.0-with-autoconf-exception": ("GPL-2.0-only", "Autoconf-exception-2.0"),
    "GPL-2.0-with-bison-exception": ("GPL-2.0-only", "Bison-exception-2.2"),
    "GPL-2.0-with-classpath-exception": ("GPL-2.0-only", "Classpath-exception-2.0"),
    "GPL-2.0-with-font-exception": ("GPL-2.0-only", "Font-exception-2.0"),
    "GPL-2.0-with-GCC-exception": ("GPL-2.0-only", "GCC-exception-2.0"),
    "GPL-3.0-with-autoconf-exception": ("GPL-3.0-only", "Autoconf-exception-3.0"),
    "GPL-3.0-with-GCC-exception": ("GPL-3.0-only", "GCC-exception-3.1"),
    "eCos-2.0": ("GPL-2.0-or-later", "eCos-exception-2.0"),
    "BSD-2-Clause-NetBSD": ("BSD-2-Clause", None),
    "bzip2-1.0.5": ("bzip2-1.0.6", None),
    "StandardML-NJ": ("SMLNJ", None),
}
"""Deprecated SPDX license id → (current license id, exception or ``None``)."""
_DEPRECATED_KEYS: Final = {k.casefold(): v for k, v in DEPRECATED_LICENSES.items()}


def current_license(text: str) -> tuple[str, str | None]:
    """The current form of one license id: ``(license, exception)`` (deprecated ids replaced)."""
    return _DEPRECATED_KEYS.get(text.casefold(), (text, None))


@dataclass(frozen=True, slots=True)
class LicenseTerm:
    """One license, optionally ``WITH`` an exception."""

    license: str
    exception: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The list entries that match this term, casefolded: whole term first, then license."""
        lic = self.license.casefold()
        out = [lic] if self.exception is None else [f"{lic} with {self.exception.casefold()}"]
        if self.exception is not None:
            out.append(lic)
        if lic.endswith("+"):
            out.append(lic[:-1])
        return tuple(out)

    def __str__(self) -> str:
        return self.license if self.exception is None else f"{self.license} WITH {self.exception}"


@dataclass(frozen=True, slots=True)
class LicenseAll:
    """``A AND B …``: every part applies."""

    parts: tuple[LicenseExpression, ...]

    def __str__(self) -> str:
        return " AND ".join(_wrap(p) for p in self.parts)


@dataclass(frozen=True, slots=True)
class LicenseAny:
    """``A OR B …``: the licensee may choose one part."""

    parts: tuple[LicenseExpression, ...]

    def __str__(self) -> str:
        return " OR ".join(_wrap(p) for p in self.parts)


LicenseExpression = LicenseTerm | LicenseAll | LicenseAny


def _wrap(node: LicenseExpression) -> str:
    return f"({node})" if isinstance(node, LicenseAny | LicenseAll) else str(node)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None:
            raise SbomError(f"invalid license expression {text[:200]!r}: bad character at {pos}")
        out.append(match.group(1) or match.group(2) or match.group(3))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def error(self, why: str) -> SbomError:
        return SbomError(f"invalid license expression {self.text[:200]!r}: {why}")

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end")
        self.pos += 1
        return token

    def parse(self) -> LicenseExpression:
        if not self.tokens:
            raise self.error("empty")
        node = self.any_of(0)
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()!r}")
        return node

    def any_of(self, depth: int) -> LicenseExpression:
        parts = [self.all_of(depth)]
        while (token := self.peek()) is not None and token.upper() == "OR":
            self.pos += 1
            parts.append(self.all_of(depth))
        return parts[0] if len(parts) == 1 else LicenseAny(tuple(parts))

    def all_of(self, depth: int) -> LicenseExpression:
        parts = [self.term(depth)]
        while (token := self.peek()) is not None and token.upper() == "AND":
            self.pos += 1
            parts.append(self.term(depth))
        return parts[0] if len(parts) == 1 else LicenseAll(tuple(parts))

    def term(self, depth: int) -> LicenseExpression:
        token = self.take()
        if token == "(":
            if depth > 50:
                raise self.error("parentheses nest too deeply")
            node = self.any_of(depth + 1)
            if self.take() != ")":
                raise self.error("missing ')'")
            return node
        if token == ")" or token.upper() in ("AND", "OR", "WITH"):
            raise self.error(f"unexpected {token!r}")
        license_id, included = current_license(token)
        if (nxt := self.peek()) is not None and nxt.upper() == "WITH":
            if included is not None:
                raise self.error(f"{token!r} already includes an exception")
            self.pos += 1
            exception = self.take()
            if exception in ("(", ")") or exception.upper() in ("AND", "OR", "WITH"):
                raise self.error(f"WITH needs an exception identifier, not {exception!r}")
            return LicenseTerm(license_id, exception)
        return LicenseTerm(license_id, included)


@lru_cache(maxsize=4096)
def parse_license_expression(text: str) -> LicenseExpression:
    """Parse an SPDX license expression (operators in any case).

    Raises :class:`SbomError` when it is not one (empty, unbalanced, bad characters, too long).
    """
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise SbomError(f"license expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    return _Parser(text).parse()


def terms(node: LicenseExpression) -> Iterator[LicenseTerm]:
    """Every term of an expression, left to right."""
    if isinstance(node, LicenseTerm):
        yield node
        return
    for part in node.parts:
        yield from terms(part)


def satisfiable(node: LicenseExpression, ok: Callable[[LicenseTerm], bool]) -> bool:
    """True when the licensee can choose branches so that every term used is ``ok``."""
    if isinstance(node, LicenseTerm):
        return ok(node)
    if isinstance(node, LicenseAll):
        return all(satisfiable(p, ok) for p in node.parts)
    return any(satisfiable(p, ok) for p in node.parts)


def _unknown(term: LicenseTerm) -> bool:
    return term.license.upper() == NO_ASSERTION


class LicenseVerdict(StrEnum):
    """How one component's licenses fare against a :class:`LicenseRules`."""

    OK = "ok"
    DENIED = "denied"
    """Every choice the expression allows uses a denied license."""
    NOT_ALLOWED = "not-allowed"
    """No choice is covered by the allow list (and the component is not denied)."""
    UNKNOWN = "unknown"
    """The component has no license information (none, or only NOASSERTION)."""
    INVALID = "invalid"
    """A license value is not an SPDX expression."""


def _key_set(entries: Iterable[str]) -> frozenset[str]:
    keys: set[str] = set()
    for entry in entries:
        node = parse_license_expression(entry)
        if not isinstance(node, LicenseTerm):
            raise SbomError(f"{entry!r} is an expression; list single licenses (or X WITH E)")
        keys.add(node.keys[0])
    return frozenset(keys)


@dataclass(frozen=True, slots=True)
class LicenseRules:
    """Allow and deny lists of license identifiers (``allow`` ``None``: no allow list).

    Build with :meth:`from_lists`, which raises :class:`SbomError` for an entry that is not a
    single license (``MIT``, ``LicenseRef-x``, ``GPL-2.0-only WITH Classpath-exception-2.0``).
    """

    allow: frozenset[str] | None
    deny: frozenset[str]

    @classmethod
    def from_lists(cls, allow: Iterable[str] | None, deny: Iterable[str]) -> LicenseRules:
        """Parse and normalise the entries of both lists."""
        return cls(None if allow is None else _key_set(allow), _key_set(deny))

    def _denied(self, term: LicenseTerm) -> bool:
        keys = term.keys
        if self.allow is not None and term.exception is not None and keys[0] in self.allow:
            return False
        return any(k in self.deny for k in keys)

    def _allowed(self, term: LicenseTerm) -> bool:
        return self.allow is None or any(k in self.allow for k in term.keys)

    def _acceptable(self, term: LicenseTerm) -> bool:
        return self._allowed(term) and not self._denied(term)

    def check(self, licenses: tuple[str, ...]) -> tuple[LicenseVerdict, str]:
        """The verdict on a component's licenses (all apply) and the expression that decided.

        Never raises: an invalid expression is :attr:`LicenseVerdict.INVALID`.
        """
        known = [t for t in licenses if t.strip().upper() != NO_ASSERTION]
        if not known:
            return LicenseVerdict.UNKNOWN, ""
        for text in known:
            try:
                node = parse_license_expression(text.strip())
            except SbomError:
                return LicenseVerdict.INVALID, text
            if not satisfiable(node, lambda t: not self._denied(t)):
                return LicenseVerdict.DENIED, text
            if self.allow is None or satisfiable(node, self._acceptable):
                continue
            if satisfiable(node, lambda t: _unknown(t) or self._acceptable(t)):
                return LicenseVerdict.UNKNOWN, text
            return LicenseVerdict.NOT_ALLOWED, text
        return LicenseVerdict.OK, " AND ".join(known)

"""Package URLs, purl patterns with version ranges, and each ecosystem's version ordering.

Every ecosystem is compared in its own ordering (:class:`Ordering`, :func:`ordering_for`):
semver 2.0 for ``npm``, ``golang`` (a ``v`` prefix is ignored; pseudo-versions are semver
pre-releases and sort as Go sorts them; ``+incompatible`` is build metadata), ``cargo``, ``hex``,
``pub`` and ``swift``; PEP 440 for ``pypi`` (with :mod:`packaging`); dpkg's for ``deb`` (epoch,
upstream, revision, ``~`` before everything); Composer's for ``composer`` (its normalisation, then
PHP's ``version_compare``). ``maven``, ``gem``, ``rpm``, ``apk``, ``nuget``, ``alpm`` and ``conan``
are compared by :mod:`univers`, imported only when one of them is. A purl type with no ordering
here (``generic``, ``github``, ``oci``, …) cannot be compared: a range on it is never decided
(:class:`VersionUnknownError` with :attr:`VersionProblem.NO_ORDERING`), never a silent miss.

A pattern is ``pkg:<type>/[<namespace>/]<name>[@<range>]``: ``<range>`` is a comma-separated
list of constraints that must all hold (``<5.4``, ``>=5.6.0,<5.6.2``, ``!=1.0``, ``=1.2.3``; a bare
version is ``=``); no range matches every version. Namespace and name may be globs (``*``).
Purls and patterns are read the way the purl spec says: slashes after ``pkg:`` are ignored
(``pkg://npm/x`` is ``pkg:npm/x``), the scheme and type are case-insensitive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Final
from urllib.parse import unquote

from provcheck.errors import SbomError, VersionUnknownError

_PYPI_SEPARATORS: Final = re.compile(r"[-_.]+")
_CASE_SENSITIVE_TYPES: Final = frozenset({"golang", "maven", "generic", "docker", "oci", "github"})
_SEMVER: Final = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)(?:\.(?P<minor>0|[1-9]\d*)(?:\.(?P<patch>0|[1-9]\d*))?)?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)
_OPERATORS: Final = ("<=", ">=", "!=", "==", "<", ">", "=")
_DEBIAN_VERSION: Final = re.compile(r"^(?:(\d+):)?([0-9A-Za-z.+~:-]+?)(?:-([0-9A-Za-z.+~]+))?$")


# -- purls -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Purl:
    """The parts of a package URL that patterns match (percent-decoded, name normalised)."""

    type: str
    namespace: str
    name: str
    version: str | None


def normalise_name(purl_type: str, name: str) -> str:
    """A name as compared: PEP 503 for pypi, casefolded unless the type is case-sensitive."""
    if purl_type == "pypi":
        return _PYPI_SEPARATORS.sub("-", name).casefold()
    return name if purl_type in _CASE_SENSITIVE_TYPES else name.casefold()


def _split(text: str) -> tuple[str, str, str, str | None]:
    """``(type, namespace, name, version)`` of ``pkg:type/ns/name@version``, decoded."""
    text = text.strip()
    if not text[:4].lower() == "pkg:":
        raise SbomError(f"{text[:200]!r} is not a package URL (no 'pkg:' scheme)")
    rest = text[4:].lstrip("/")
    purl_type, sep, path = rest.partition("/")
    if not sep or not purl_type or not path:
        raise SbomError(f"{text[:200]!r} is not a package URL (no type or name)")
    version: str | None = None
    at = next((i for i, c in enumerate(path) if c == "@" and i > 0 and path[i - 1] != "/"), -1)
    if at >= 0:
        path, version = path[:at], unquote(path[at + 1 :])
    segments = [unquote(s) for s in path.strip("/").split("/") if s]
    if not segments:
        raise SbomError(f"{text[:200]!r} is not a package URL (no name)")
    purl_type = purl_type.lower()
    namespace = "/".join(segments[:-1])
    if purl_type not in _CASE_SENSITIVE_TYPES:
        namespace = namespace.casefold()
    return purl_type, namespace, normalise_name(purl_type, segments[-1]), version or None


def purl_type(text: str) -> str | None:
    """The type of a package URL (lowercase; ``pkg://npm/x`` is ``npm``), ``None`` if not one."""
    text = text.lstrip()
    if text[:4].lower() != "pkg:":
        return None
    purl_type, sep, _ = text[4:].lstrip("/").partition("/")
    return purl_type.lower() if sep and purl_type else None


def parse_purl(text: str) -> Purl:
    """Parse a package URL (qualifiers and subpath are dropped).

    Raises :class:`SbomError` when ``text`` is not one.
    """
    base = text.partition("#")[0].partition("?")[0]
    purl_type, namespace, name, version = _split(base)
    return Purl(purl_type, namespace, name, version)


# -- version orderings -------------------------------------------------------------------------
def _cmp(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def _char_weight(c: str) -> int:
    if c == "~":
        return -1
    return ord(c) if c.isalpha() else ord(c) + 256


def _verrevcmp(a: str, b: str) -> int:
    """dpkg's ``verrevcmp``: alternate non-digit runs (``~`` lowest) and numeric runs."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            wa = _char_weight(a[i]) if i < len(a) and not a[i].isdigit() else 0
            wb = _char_weight(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if wa != wb:
                return _cmp(wa, wb)
            i += 1
            j += 1
        si = i
        while i < len(a) and a[i].isdigit():
            i += 1
        sj = j
        while j < len(b) and b[j].isdigit():
            j += 1
        na, nb = int(a[si:i] or 0), int(b[sj:j] or 0)
        if na != nb:
            return _cmp(na, nb)
    return 0


def _debian_parts(text: str) -> tuple[int, str, str]:
    match = _DEBIAN_VERSION.match(text)
    if match is None or not match.group(2)[0].isdigit():
        raise ValueError(text)
    epoch, upstream, revision = match.groups()
    return int(epoch or 0), upstream, revision or ""


def compare_debian(a: str, b: str) -> int:
    """dpkg ordering of two Debian versions. Raises ValueError for an invalid version."""
    ea, ua, ra = _debian_parts(a)
    eb, ub, rb = _debian_parts(b)
    return _cmp(ea, eb) or _verrevcmp(ua, ub) or _verrevcmp(ra, rb)


def _semver_key(text: str) -> tuple[tuple[int, int, int], tuple[str, ...] | None]:
    match = _SEMVER.match(text.strip())
    if match is None:
        raise ValueError(text)
    core = (int(match["major"]), int(match["minor"] or 0), int(match["patch"] or 0))
    pre = tuple(match["pre"].split(".")) if match["pre"] else None
    return core, pre


def _pre_cmp(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    for x, y in zip(a, b, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return _cmp(int(x), int(y))
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1
        return _cmp(x, y)
    return _cmp(len(a), len(b))


def compare_semver(a: str, b: str) -> int:
    """Semver 2.0 ordering (``v`` prefix and missing minor/patch tolerated, build ignored).

    Raises ValueError for a version that is not semver.
    """
    (ca, pa), (cb, pb) = _semver_key(a), _semver_key(b)
    if ca != cb:
        return _cmp(ca, cb)
    if pa is None or pb is None:
        return _cmp(pa is None, pb is None)
    return _pre_cmp(pa, pb)


@lru_cache(maxsize=65536)
def _pep440(text: str) -> Any:
    from packaging.version import InvalidVersion, Version  # only pypi patterns need it

    try:
        return Version(text)
    except InvalidVersion as exc:
        raise ValueError(text) from exc


def compare_pep440(a: str, b: str) -> int:
    """PEP 440 ordering. Raises ValueError for an invalid version."""
    return _cmp(_pep440(a), _pep440(b))


_COMPOSER: Final = re.compile(
    r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?"
    r"(?:[._-]?(stable|beta|b|rc|alpha|a|patch|pl|p)((?:[.-]?\d+)*))?([.-]?dev)?$",
    re.IGNORECASE,
)
_COMPOSER_STABILITY: Final = {
    "alpha": "alpha",
    "a": "alpha",
    "beta": "beta",
    "b": "beta",
    "rc": "RC",
    "patch": "patch",
    "pl": "patch",
    "p": "patch",
}
_PHP_FORMS: Final = (
    ("dev", 0),
    ("alpha", 1),
    ("a", 1),
    ("beta", 2),
    ("b", 2),
    ("RC", 3),
    ("rc", 3),
    ("#", 4),
    ("pl", 5),
    ("p", 5),
)
_PHP_NUMBER: Final = 4
_PHP_PART: Final = re.compile(r"[0-9]+|[A-Za-z]+")


def _composer_parts(text: str) -> tuple[str, ...]:
    """Composer's ``VersionParser::normalize`` (``1.0-RC1`` → ``1.0.0.0-RC1``), split into parts.

    Branches (``dev-main``, ``1.x-dev``) have no order and raise ValueError.
    """
    match = _COMPOSER.match(text.strip().partition("+")[0])
    if match is None:
        raise ValueError(text)
    version = ".".join(match[i] or "0" for i in range(1, 5))
    stability = (match[5] or "").lower()
    if stability and stability != "stable":
        version += f"-{_COMPOSER_STABILITY[stability]}{(match[6] or '').lstrip('.-')}"
    if match[7] and stability != "stable":
        version += "-dev"
    return tuple(_PHP_PART.findall(version))


def _php_form(part: str) -> int:
    if part.isdigit():
        return _PHP_NUMBER
    return next((order for name, order in _PHP_FORMS if part.startswith(name)), -1)


def compare_composer(a: str, b: str) -> int:
    """Composer's ordering: PHP ``version_compare`` of the normalised versions.

    ``dev`` < ``alpha`` < ``beta`` < ``RC`` < release < ``patch``. Raises ValueError for a
    version Composer cannot normalise.
    """
    pa, pb = _composer_parts(a), _composer_parts(b)
    for x, y in zip(pa, pb, strict=False):
        c = _cmp(int(x), int(y)) if x.isdigit() and y.isdigit() else 0
        c = c or _cmp(_php_form(x), _php_form(y))
        if c:
            return c
    if len(pa) == len(pb):
        return 0
    sign, rest = (1, pa[len(pb)]) if len(pa) > len(pb) else (-1, pb[len(pa)])
    return sign * _cmp(_php_form(rest) if not rest.isdigit() else _PHP_NUMBER + 1, _PHP_NUMBER)


class Ordering(StrEnum):
    """A version ordering; the ones marked (univers) come from :mod:`univers`."""

    PEP440 = "pep440"
    SEMVER = "semver"
    DEBIAN = "debian"
    COMPOSER = "composer"
    MAVEN = "maven"
    """(univers) Maven's ``ComparableVersion``: ``1.0-alpha`` < ``1.0-rc1`` < ``1.0`` < ``1.0-sp1``.
    """
    RUBYGEMS = "rubygems"
    """(univers) ``Gem::Version``: a letter makes a pre-release (``1.0.0.pre`` < ``1.0.0``)."""
    RPM = "rpm"
    """(univers) ``rpmvercmp`` with epoch and release; ``~`` before, ``^`` after a release."""
    ALPINE = "alpine"
    """(univers) apk: ``_alpha``/``_beta``/``_pre``/``_rc`` before a release, ``-rN`` revisions."""
    NUGET = "nuget"
    """(univers) NuGet: four parts, case-insensitive pre-release labels."""
    ARCH = "alpm"
    """(univers) pacman's ``vercmp``: epoch, ``rpmvercmp`` of version, ``pkgrel``."""
    CONAN = "conan"
    """(univers) Conan's version model."""


ORDERINGS: Final[Mapping[str, Ordering]] = {
    "pypi": Ordering.PEP440,
    "npm": Ordering.SEMVER,
    "golang": Ordering.SEMVER,
    "cargo": Ordering.SEMVER,
    "hex": Ordering.SEMVER,
    "pub": Ordering.SEMVER,
    "swift": Ordering.SEMVER,
    "deb": Ordering.DEBIAN,
    "composer": Ordering.COMPOSER,
    "maven": Ordering.MAVEN,
    "gem": Ordering.RUBYGEMS,
    "rpm": Ordering.RPM,
    "apk": Ordering.ALPINE,
    "nuget": Ordering.NUGET,
    "alpm": Ordering.ARCH,
    "conan": Ordering.CONAN,
}
"""The ordering of each purl type that has one; any other type cannot be compared."""

_OWN: Final[Mapping[Ordering, Callable[[str, str], int]]] = {
    Ordering.PEP440: compare_pep440,
    Ordering.SEMVER: compare_semver,
    Ordering.DEBIAN: compare_debian,
    Ordering.COMPOSER: compare_composer,
}
_UNIVERS_CLASSES: Final[Mapping[Ordering, str]] = {
    Ordering.MAVEN: "MavenVersion",
    Ordering.RUBYGEMS: "RubygemsVersion",
    Ordering.RPM: "RpmVersion",
    Ordering.ALPINE: "AlpineLinuxVersion",
    Ordering.NUGET: "NugetVersion",
    Ordering.ARCH: "ArchLinuxVersion",
    Ordering.CONAN: "ConanVersion",
}
MAX_VERSION_LENGTH: Final = 256
"""A longer version is not handed to a version parser (it is not comparable)."""


@lru_cache(maxsize=65536)
def _univers_version(ordering: Ordering, text: str) -> Any:
    # univers costs ~65 ms of imports (attrs, semantic_version, semver): only these need it
    from univers import versions

    if len(text) > MAX_VERSION_LENGTH:
        raise ValueError(text[:100])
    try:
        return getattr(versions, _UNIVERS_CLASSES[ordering])(text)
    except Exception as exc:  # univers raises assorted errors on input it cannot read
        raise ValueError(text[:100]) from exc


def _compare_univers(ordering: Ordering, a: str, b: str) -> int:
    va, vb = _univers_version(ordering, a), _univers_version(ordering, b)
    try:
        return _cmp(va, vb)
    except Exception as exc:  # as above: a comparison univers cannot make is no answer
        raise ValueError(f"{a[:100]} vs {b[:100]}") from exc


def ordering_for(purl_type: str) -> Ordering | None:
    """The ordering of ``purl_type``'s versions, or ``None`` when it has none."""
    return ORDERINGS.get(purl_type)


def compare_in(ordering: Ordering, a: str, b: str) -> int:
    """Compare two versions in ``ordering``. Raises ValueError for a version it cannot read."""
    own = _OWN.get(ordering)
    if own is not None:
        return own(a, b)
    return _compare_univers(ordering, a, b)


class VersionProblem(StrEnum):
    """Why two versions could not be compared."""

    MISSING = "missing"
    """The package has no version."""
    UNREADABLE = "unreadable"
    """A version is not one of the ecosystem (its ordering cannot read it)."""
    NO_ORDERING = "no-ordering"
    """provcheck knows no ordering for the purl type."""


def compare_versions(purl_type: str, a: str, b: str) -> int:
    """Compare two versions in the ordering of ``purl_type``: negative, zero or positive.

    Raises :class:`VersionUnknownError` when the type has no ordering
    (:attr:`VersionProblem.NO_ORDERING`) or either is not a version of that ecosystem
    (:attr:`VersionProblem.UNREADABLE`).
    """
    ordering = ordering_for(purl_type)
    if ordering is None:
        raise VersionUnknownError(
            f"cannot compare versions of pkg:{purl_type}", VersionProblem.NO_ORDERING
        )
    try:
        return compare_in(ordering, a, b)
    except ValueError as exc:
        raise VersionUnknownError(
            f"cannot compare {purl_type} versions {a[:100]!r} and {b[:100]!r} "
            f"({ordering} ordering)",
            VersionProblem.UNREADABLE,
        ) from exc


# -- patterns ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VersionConstraint:
    """``<op> <version>``; ``op`` is one of ``< <= > >= = !=``."""

    op: str
    version: str

    def holds(self, purl_type: str, version: str) -> bool:
        """Whether ``version`` satisfies the constraint. Raises :class:`VersionUnknownError`."""
        c = compare_versions(purl_type, version, self.version)
        return {
            "<": c < 0,
            "<=": c <= 0,
            ">": c > 0,
            ">=": c >= 0,
            "=": c == 0,
            "!=": c != 0,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.op}{self.version}"


@dataclass(frozen=True, slots=True)
class PurlPattern:
    """A parsed deny pattern; build with :func:`parse_purl_pattern`."""

    text: str
    type: str
    namespace: str
    name: str
    constraints: tuple[VersionConstraint, ...]

    def matches_name(self, purl: Purl) -> bool:
        """Type, namespace and name match (globs allowed in the pattern)."""
        return (
            purl.type == self.type
            and _glob(self.namespace, purl.namespace)
            and _glob(self.name, purl.name)
        )

    def matches(self, purl: Purl) -> bool:
        """Name and version range match.

        Raises :class:`VersionUnknownError` when the name matches and the range cannot be
        decided: no version, one that the ecosystem's ordering cannot read, or a purl type
        without an ordering.
        """
        if not self.matches_name(purl):
            return False
        if not self.constraints:
            return True
        if purl.version is None:
            raise VersionUnknownError(
                f"{self.text}: the package has no version", VersionProblem.MISSING
            )
        try:
            return all(c.holds(self.type, purl.version) for c in self.constraints)
        except VersionUnknownError as exc:
            raise VersionUnknownError(f"{self.text}: {exc.diagnostics()}", exc.problem) from exc


def _glob(pattern: str, value: str) -> bool:
    if any(c in pattern for c in "*?["):
        return fnmatchcase(value, pattern)
    return pattern == value


def _constraint(text: str, purl_type: str, pattern: str) -> VersionConstraint:
    text = text.strip()
    op = next((o for o in _OPERATORS if text.startswith(o)), "=")
    version = text[len(op) :].strip() if text.startswith(op) else text
    op = "=" if op == "==" else op
    if not version:
        raise SbomError(f"purl pattern {pattern!r}: empty version in {text!r}")
    ordering = ordering_for(purl_type)
    if ordering is None:  # kept: a package it names makes the rule incomplete, never a miss
        return VersionConstraint(op, version)
    try:
        compare_in(ordering, version, version)
    except ValueError as exc:
        raise SbomError(
            f"purl pattern {pattern!r}: {version!r} is not a {purl_type} version "
            f"({ordering} ordering)"
        ) from exc
    return VersionConstraint(op, version)


def parse_purl_pattern(text: str) -> PurlPattern:
    """Parse ``pkg:type/[namespace/]name[@range]`` (see the module docstring).

    Raises :class:`SbomError` for a pattern that is not a purl, has qualifiers or a subpath, or
    whose range has a version the ecosystem's ordering cannot read. A range on a purl type
    without an ordering is kept: it is never decided (see :meth:`PurlPattern.matches`).
    """
    if "?" in text or "#" in text:
        raise SbomError(f"purl pattern {text!r}: qualifiers and subpaths are not supported")
    purl_type, namespace, name, version = _split(text.strip())
    constraints: tuple[VersionConstraint, ...] = ()
    if version is not None and version.strip() not in ("", "*"):
        constraints = tuple(_constraint(c, purl_type, text) for c in version.split(","))
    return PurlPattern(text, purl_type, namespace, name, constraints)

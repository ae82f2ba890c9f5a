"""Package URLs, purl patterns with version ranges, and each ecosystem's version ordering.

Orderings: semver 2.0 for ``npm``, ``golang`` (a ``v`` prefix is ignored; pseudo-versions are
semver pre-releases and sort as Go sorts them; ``+incompatible`` is build metadata), ``cargo``
and ``nuget``; PEP 440 for ``pypi`` (with :mod:`packaging`); dpkg's for ``deb`` (epoch,
upstream, revision, ``~`` before everything); a generic ordering (dpkg's algorithm on the whole
string: digit runs compare numerically) for every other type.

A pattern is ``pkg:<type>/[<namespace>/]<name>[@<range>]``: ``<range>`` is a comma-separated
list of constraints that must all hold (``<5.4``, ``>=5.6.0,<5.6.2``, ``!=1.0``, ``=1.2.3``; a bare
version is ``=``); no range matches every version. Namespace and name may be globs (``*``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Final
from urllib.parse import unquote

from provcheck.errors import SbomError

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


def compare_generic(a: str, b: str) -> int:
    """Digit runs numerically, other runs by character (dpkg's algorithm, no epoch)."""
    if not a or not b:
        raise ValueError("empty version")
    return _verrevcmp(a, b)


_ORDERINGS: Final[dict[str, Callable[[str, str], int]]] = {
    "pypi": compare_pep440,
    "npm": compare_semver,
    "golang": compare_semver,
    "cargo": compare_semver,
    "nuget": compare_semver,
    "deb": compare_debian,
}


def ordering_name(purl_type: str) -> str:
    """The ordering used for ``purl_type``: ``pep440``, ``semver``, ``debian`` or ``generic``."""
    fn = _ORDERINGS.get(purl_type, compare_generic)
    return fn.__name__.removeprefix("compare_")


def compare_versions(purl_type: str, a: str, b: str) -> int:
    """Compare two versions in the ordering of ``purl_type``: negative, zero or positive.

    Raises :class:`SbomError` when either is not a version of that ecosystem.
    """
    try:
        return _ORDERINGS.get(purl_type, compare_generic)(a, b)
    except ValueError as exc:
        raise SbomError(
            f"cannot compare {purl_type} versions {a[:100]!r} and {b[:100]!r} "
            f"({ordering_name(purl_type)} ordering)"
        ) from exc


# -- patterns ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VersionConstraint:
    """``<op> <version>``; ``op`` is one of ``< <= > >= = !=``."""

    op: str
    version: str

    def holds(self, purl_type: str, version: str) -> bool:
        """Whether ``version`` satisfies the constraint. Raises :class:`SbomError`."""
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


class VersionUnknownError(SbomError):
    """A package matches a pattern's name, but its version is missing or not comparable."""


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
        decided (no version, or one that the ecosystem's ordering cannot read).
        """
        if not self.matches_name(purl):
            return False
        if not self.constraints:
            return True
        if purl.version is None:
            raise VersionUnknownError(f"{self.text}: the package has no version")
        try:
            return all(c.holds(self.type, purl.version) for c in self.constraints)
        except SbomError as exc:
            raise VersionUnknownError(f"{self.text}: {exc.diagnostics()}") from exc


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
    try:
        _ORDERINGS.get(purl_type, compare_generic)(version, version)
    except ValueError as exc:
        raise SbomError(
            f"purl pattern {pattern!r}: {version!r} is not a {purl_type} version "
            f"({ordering_name(purl_type)} ordering)"
        ) from exc
    return VersionConstraint(op, version)


def parse_purl_pattern(text: str) -> PurlPattern:
    """Parse ``pkg:type/[namespace/]name[@range]`` (see the module docstring).

    Raises :class:`SbomError` for a pattern that is not a purl, has qualifiers or a subpath, or
    whose range has a version the ecosystem's ordering cannot read.
    """
    if "?" in text or "#" in text:
        raise SbomError(f"purl pattern {text!r}: qualifiers and subpaths are not supported")
    purl_type, namespace, name, version = _split(text.strip())
    constraints: tuple[VersionConstraint, ...] = ()
    if version is not None and version.strip() not in ("", "*"):
        constraints = tuple(_constraint(c, purl_type, text) for c in version.split(","))
    return PurlPattern(text, purl_type, namespace, name, constraints)

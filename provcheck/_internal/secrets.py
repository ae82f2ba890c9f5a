"""Does a build argument or environment variable look like a secret? (names and values)

Stdlib only: the policy rules and the redacting views (``inspect --format provenance``, which
must not load the policy package) both read it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

_NAME_WORDS: Final = (
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "CREDENTIAL",
    "CREDS",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "AUTHORIZATION",
)
"""Words that make a name secret wherever they stand in it (``NPM_TOKEN``, ``DBPASSWORD``)."""
_NAME_PARTS: Final = frozenset(
    {"KEY", "PWD", "PASS", "PAT", "SIGNATURE", "CERT", "DSN", "AUTH", "OAUTH"}
)
"""Short words that make a name secret only as a whole part (``NPM_AUTH``, not ``AUTHOR``)."""
_HARMLESS_NAMES: Final = frozenset(
    {"PATH", "HOME", "HOSTNAME", "TERM", "SSH_AUTH_SOCK", "GPG_KEY", "KEYRING", "PUBLIC_KEY"}
)
_HARMLESS_NAME_SUFFIXES: Final = (
    "_PUBLIC_KEY",
    "_KEY_ID",
    "_KEY_FILE",
    "_TOKEN_FILE",
    "_FILE",
    "_URL",
    "_URI",
    "_ENDPOINT",
)
"""Names that point at a secret rather than hold one. Their values are still checked: a URL
with a password or a token in a known format is reported whatever the name."""


@dataclass(frozen=True, slots=True)
class TokenFormat:
    """A known token format: its kind, its pattern and the prefixes a redaction may show."""

    kind: str
    pattern: re.Pattern[str]
    shown: tuple[str, ...] = ()
    """Value prefixes that name the kind without revealing any of the secret (<= 4 chars)."""


TOKEN_FORMATS: Final = (
    TokenFormat(
        "GitHub token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    TokenFormat("npm token", re.compile(r"\bnpm_[A-Za-z0-9]{30,}"), ("npm_",)),
    TokenFormat(
        "AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), ("AKIA", "ASIA")
    ),
    TokenFormat(
        "Slack token",
        re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
        ("xoxb", "xoxp", "xoxa", "xoxr", "xoxs"),
    ),
    TokenFormat("GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), ("glpa",)),
    TokenFormat(
        "Stripe key", re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"), ("sk_l", "sk_t")
    ),
    TokenFormat("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    TokenFormat("Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}"), ("hf_",)),
    TokenFormat(
        "DigitalOcean token",
        re.compile(r"\bdo[opr]_v1_[a-f0-9]{64}"),
        ("dop_", "doo_", "dor_"),
    ),
    TokenFormat("SonarQube token", re.compile(r"\bsq[upa]_[a-f0-9]{40}"), ("squ_", "sqp_", "sqa_")),
    TokenFormat(
        "Shopify token",
        re.compile(r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
        ("shpa", "shpc", "shpp", "shps"),
    ),
    TokenFormat("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    TokenFormat("JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")),
)
"""Known token formats (prefix and alphabet), wherever they stand in a value: the one table
that both detection (:func:`looks_like_secret`) and redaction (``report.redaction``) read."""


_DIGEST_AFTER_AT: Final = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://")


def without_userinfo(image: str) -> str:
    """``image`` as written (in a Pod spec: any string) with what stands before an ``@`` that
    is not followed by a digest replaced by ``***``: ``user:pass@host/app`` is shown as
    ``***@host/app``, ``https://u:p@host/app`` as ``https://***@host/app``; a reference
    (``app:1@sha256:…``) is unchanged."""
    start = 0
    while (at := image.find("@", start)) != -1:
        if not _DIGEST_AFTER_AT.match(image, at + 1):
            scheme = _SCHEME.match(image)
            keep = scheme.end() if scheme is not None and scheme.end() <= at else 0
            return image[:keep] + "***" + image[at:]
        start = at + 1
    return image


def shown_prefix(value: str) -> str:
    """The token-kind prefix a redaction of ``value`` may show (``""``: none)."""
    return next((p for f in TOKEN_FORMATS for p in f.shown if value.startswith(p)), "")


_URL_USERINFO: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://([^/\s@]*)@")
_MASKED_USERINFO: Final = frozenset({"xxxxx:xxxxx", "xxxxx", ":xxxxx"})
"""What BuildKit's ``urlutil.RedactCredentials`` leaves: user and password, user, password."""
_HEX_TOKEN: Final = re.compile(r"[0-9a-fA-F]{32,}")
_ENTROPY_CANDIDATE: Final = re.compile(r"[A-Za-z0-9+/=_\-]{24,}")


@dataclass(frozen=True, slots=True)
class SecretMatch:
    """Why a name/value pair looks like a secret (never contains the value)."""

    reason: str


def name_is_secret(name: str) -> bool:
    """Does ``name`` alone say its value is a secret (``NPM_TOKEN``, not ``AUTHOR``)?"""
    upper = name.upper()
    if upper in _HARMLESS_NAMES or upper.endswith(_HARMLESS_NAME_SUFFIXES):
        return False
    if any(word in upper for word in _NAME_WORDS):
        return True
    return any(part in _NAME_PARTS for part in re.split(r"[^A-Z0-9]+", upper))


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def _high_entropy(value: str) -> bool:
    for token in _ENTROPY_CANDIDATE.findall(value):
        classes = sum(
            (
                any(c.islower() for c in token),
                any(c.isupper() for c in token),
                any(c.isdigit() for c in token),
            )
        )
        if classes >= 3 and _entropy(token) >= 4.2:
            return True
    return False


def _token_kind(text: str) -> str | None:
    return next((f.kind for f in TOKEN_FORMATS if f.pattern.search(text)), None)


def _url_credential(value: str) -> str | None:
    """Why a URL in ``value`` carries a credential in its userinfo (``None``: none does).

    Every URL is judged on its own; BuildKit's masks (``xxxxx:xxxxx@``, ``xxxxx@``,
    ``:xxxxx@``) carry nothing. A non-empty password is a credential whatever the user name
    (``https://:TOKEN@``, ``https://x-access-token:TOKEN@``). A user name alone
    (``https://NAME@host``) is a credential only if, percent-decoded, it looks like a token
    rather than a person or role (``git``, ``jane.doe``, ``oauth2``, ``gitlab-ci-token``): it
    is in a known token format, or it is 32 or more hex digits (a classic 40-hex GitHub token),
    or it passes the high-entropy test (24+ characters of the token alphabet with lower case,
    upper case and digits, at least 4.2 bits per character).
    """
    for match in _URL_USERINFO.finditer(value):
        userinfo = match.group(1)
        if userinfo in _MASKED_USERINFO:
            continue
        user, _, password = userinfo.partition(":")
        if password:
            return "URL with a password"
        user = unquote(user)
        kind = _token_kind(user)
        if kind is not None:
            return f"URL with a {kind} as user name"
        if _HEX_TOKEN.fullmatch(user) or _high_entropy(user):
            return "URL with a token as user name"
    return None


def looks_like_secret(name: str | None, value: str) -> SecretMatch | None:
    """Classify ``name=value``; ``None`` when it does not look like a secret.

    An empty value leaks nothing. A name such as ``GH_TOKEN`` or ``DB_PASSWORD`` with any
    non-empty value is a secret; so is a value in a known token format, a URL whose userinfo
    holds a credential (:func:`_url_credential`) or a long high-entropy string.
    """
    if not value:
        return None
    kind = _token_kind(value)
    if kind is not None:
        return SecretMatch(f"value looks like a {kind}")
    url = _url_credential(value)
    if url is not None:
        return SecretMatch(f"value looks like a {url}")
    if name is not None and name_is_secret(name):
        return SecretMatch(f"name {name!r} suggests a secret")
    if _high_entropy(value):
        return SecretMatch("value is a long high-entropy string")
    return None

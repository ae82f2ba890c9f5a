"""Cached verdicts: the key over everything that can change a verdict, when a verdict expires,
and the sealed entry (an HMAC over it) that a store holds.

A verdict is a ``provcheck.report/v1`` document (:func:`~provcheck.report.json.report_to_dict`).
An entry read back is used only when it parses, carries the key it was asked for, has not
expired, is not an ``error`` verdict, and (with an HMAC key) its MAC verifies; anything else is
a miss, so that a corrupted or forged entry costs a verification, never a wrong answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, Protocol

from provcheck import __version__
from provcheck.errors import ProvcheckError
from provcheck.oci.digest import Digest
from provcheck.report.model import Report, Verdict

if TYPE_CHECKING:
    from provcheck.discovery.model import ImageAttestations
    from provcheck.policy import Policy

_log = logging.getLogger("provcheck.cache")

KEY_VERSION: Final = "provcheck.verdict-key/v1"
ENTRY_MAGIC: Final = b"provcheck.verdict/v1"
MIN_HMAC_KEY_BYTES: Final = 16

STORES_TTL: Final = timedelta(hours=1)
"""Longest life of a verdict that read cosign tags or referrers: signatures and attestations can
be pushed there after the verdict, under the same image digest, and the key cannot see them."""
IMMUTABLE_TTL: Final = timedelta(days=30)
"""Longest life of a verdict that read only content addressed by the image digest."""


class VerdictCache(Protocol):
    """Reports by verdict key (:func:`verdict_key`). ``get`` of an unknown, expired, corrupted or
    forged entry is ``None``; ``put`` may drop the entry (a store that is down or full)."""

    async def get(self, key: str) -> Report | None:
        """The report stored under ``key``, or ``None``."""
        ...

    async def put(self, key: str, report: Report, expires_at: datetime) -> None:
        """Keep ``report`` under ``key`` until ``expires_at``; an ``error`` verdict is never
        kept."""
        ...


class NoVerdicts:
    """A :class:`VerdictCache` that keeps nothing (no cache, or no way to trust one)."""

    async def get(self, key: str) -> Report | None:
        """Always ``None``."""
        return None

    async def put(self, key: str, report: Report, expires_at: datetime) -> None:
        """Keeps nothing."""


@dataclass(frozen=True, slots=True)
class VerdictInputs:
    """Everything that can change the verdict of one image, hashed by :func:`verdict_key`.

    ``digest``: the resolved image (index or manifest) digest; ``policy_document``: the policy
    file's bytes as they were parsed; ``trust``: the trust material the evaluated policy holds,
    from :func:`trust_inputs` (keys named in the policy or given with ``--key``, identities,
    threshold, trusted root); ``pinned``: whether the reference named the digest (it makes
    unsigned evidence ``index-bound``); ``repositories``: where signatures and referrers were
    looked up (``registry/repository``); ``options``: the evaluation's own settings
    (``--platform``, ``--max-attestation-size``, the policy's name); ``version``: provcheck's,
    since another version may judge the same evidence differently.
    """

    digest: Digest
    policy_document: bytes = field(repr=False)
    trust: tuple[str, ...]
    pinned: bool
    repositories: tuple[str, ...]
    options: tuple[str, ...] = ()
    version: str = __version__


def trust_inputs(policy: Policy) -> tuple[str, ...]:
    """The trust material of ``policy`` as stable strings: key ids (SHA-256 of the DER public
    key), identities, threshold, tlog requirement and the trusted root's SHA-256."""
    from provcheck.policy.model import SignaturesOptions, VsaOptions

    vsa = policy.rules.get("vsa")
    summaries = (
        [f"vsa-key {k.algorithm} {k.key_id}" for k in vsa.keys]
        if isinstance(vsa, VsaOptions)
        else []
    )
    signatures = policy.rules.get("signatures")
    if not isinstance(signatures, SignaturesOptions):
        return tuple(sorted(summaries))
    out = [*summaries, *(f"key {k.algorithm} {k.key_id}" for k in signatures.keys)]
    out.extend(
        f"identity {json.dumps([i.issuer, i.subject_regexp])}" for i in signatures.identities
    )
    out.append(f"threshold {signatures.threshold}")
    out.append(f"tlog-required {signatures.tlog_required}")
    if signatures.trusted_root is not None:
        out.append(f"trusted-root {hashlib.sha256(signatures.trusted_root.data).hexdigest()}")
    return tuple(sorted(out))


def verdict_key(inputs: VerdictInputs) -> str:
    """The SHA-256 (hex) over a canonical JSON document of ``inputs``; raises nothing."""
    document = {
        "v": KEY_VERSION,
        "digest": str(inputs.digest),
        "policy": hashlib.sha256(inputs.policy_document).hexdigest(),
        "trust": sorted(inputs.trust),
        "pinned": inputs.pinned,
        "repositories": sorted(set(inputs.repositories)),
        "options": list(inputs.options),
        "version": inputs.version,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _changes(finished: datetime, max_age: timedelta, now: datetime) -> datetime:
    """When the ``provenance`` result for a build finished at ``finished`` next changes: when it
    gets older than ``max_age``, and after that each time its age in days (in the message)
    grows."""
    limit = finished + max_age
    if now <= limit:
        return limit
    return finished + timedelta(days=(now - finished).days + 1)


def verdict_expiry(
    image: ImageAttestations, policy: Policy, now: datetime, *, stores: bool
) -> datetime | None:
    """When a verdict of ``policy`` on ``image``, evaluated at ``now``, must be judged again, or
    ``None`` when it must not be cached at all (a time-dependent result without a computable
    change time).

    A policy with ``provenance.max-age`` changes its result as builds get older: the earliest
    change over every provenance statement of the image counts (a lower bound, whatever
    ``--platform`` or ``min-trust`` selected). ``stores``: the verdict read cosign tags or
    referrers (:data:`STORES_TTL`), else :data:`IMMUTABLE_TTL` bounds it.

    A ``vsa`` rule's result depends on the time and on the stores: a pass is kept until the
    summary it accepted gets older than ``max-age`` (within the stores' hour), so that a gate
    answers a warm image without a request and never past ``max-age``; any other result is
    never kept, so that a summary attached after a denial counts at once.
    """
    from provcheck.policy.model import ProvenanceOptions, VsaOptions
    from provcheck.policy.rules.vsa import accepted_until
    from provcheck.predicates import PredicateKind
    from provcheck.predicates.slsa import parse_provenance

    expires = now + (STORES_TTL if stores else IMMUTABLE_TTL)
    vsa = policy.rules.get("vsa")
    if isinstance(vsa, VsaOptions):
        until = accepted_until(image, vsa, now)
        if until is None:
            return None
        expires = min(expires, until)
    options = policy.rules.get("provenance")
    if not isinstance(options, ProvenanceOptions) or options.max_age is None:
        return expires
    for platform in image.images:
        for usable in platform.statements(PredicateKind.PROVENANCE):
            try:
                provenance = parse_provenance(usable.statement)
            except ProvcheckError:
                return None  # an error result: never cached anyway
            finished = provenance.finished_on or provenance.started_on
            if finished is None:
                continue  # incomplete whatever the time
            if finished.tzinfo is None:
                return None
            expires = min(expires, _changes(finished, options.max_age, now))
    return expires if expires > now else None


def cacheable(report: Report) -> bool:
    """Whether ``report`` may be kept: an evaluation (not an error report) whose verdict is
    not ``error``."""
    return report.error is None and report.verdict is not Verdict.ERROR and bool(report.digest)


def _mac(secret: bytes, payload: bytes) -> str:
    return hmac.new(secret, ENTRY_MAGIC + b"\n" + payload, hashlib.sha256).hexdigest()


def seal(key: str, report: Report, expires_at: datetime, secret: bytes | None) -> bytes:
    """The stored form of a verdict: ``MAGIC MAC\\n`` then a JSON payload of the key, the
    expiry and the report; the MAC (HMAC-SHA256 with ``secret``) covers the payload, or is
    ``-`` without a secret."""
    from provcheck.report.json import report_to_dict

    payload = json.dumps(
        {
            "key": key,
            "expiresAt": expires_at.astimezone(UTC).isoformat(),
            "report": report_to_dict(report),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()
    mac = _mac(secret, payload) if secret is not None else "-"
    return ENTRY_MAGIC + b" " + mac.encode() + b"\n" + payload


def unseal(data: bytes, key: str, secret: bytes | None, now: datetime) -> Report | None:
    """The report a :func:`seal` entry holds for ``key``, or ``None`` (logged) when it is not
    one, is for another key, has expired, holds an error verdict, or, with ``secret``, its MAC
    does not verify. Raises nothing."""
    from provcheck.report.json import report_from_dict

    head, newline, payload = data.partition(b"\n")
    magic, _, mac = head.partition(b" ")
    if not newline or magic != ENTRY_MAGIC:
        return _miss(key, "not a verdict entry")
    if secret is not None and not hmac.compare_digest(mac, _mac(secret, payload).encode()):
        return _miss(key, "its MAC does not verify (forged, or another HMAC key)")
    try:
        doc = json.loads(payload)
        if doc["key"] != key:
            return _miss(key, "it was stored for another key")
        expires_at = datetime.fromisoformat(doc["expiresAt"])
        report = report_from_dict(doc["report"])
    except (ValueError, TypeError, KeyError, ProvcheckError):
        return _miss(key, "it is malformed")
    if expires_at.tzinfo is None or expires_at <= now:
        return None
    return report if cacheable(report) else _miss(key, "it is an error verdict")


def _miss(key: str, why: str) -> Report | None:
    """Log why the entry of ``key`` is ignored; ``None``."""
    _log.warning("cached verdict %s… ignored: %s", key[:12], why)
    return None


def check_secret(secret: bytes) -> bytes:
    """``secret`` if it is long enough for an HMAC key; raises :class:`UsageError` otherwise."""
    from provcheck.errors import UsageError

    if len(secret) < MIN_HMAC_KEY_BYTES:
        raise UsageError(f"the cache HMAC key must be at least {MIN_HMAC_KEY_BYTES} bytes")
    return secret


def rebind(report: Report, reference: str) -> Report:
    """A cached report for the reference it is now asked for (the verdict key covers the image
    and its repository, not the tag, which only ``subject.reference`` shows)."""
    from dataclasses import replace

    return report if report.reference == reference else replace(report, reference=reference)


def evaluation_options(
    policy: Policy, platforms: Iterable[str], max_layer_bytes: int | None
) -> tuple[str, ...]:
    """:attr:`VerdictInputs.options` of a verification."""
    return (
        f"policy-name {json.dumps(policy.name)}",
        f"platforms {json.dumps(sorted(platforms))}",
        f"max-layer-bytes {max_layer_bytes}",
    )

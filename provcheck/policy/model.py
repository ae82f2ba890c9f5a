"""A validated policy as immutable values (built by :mod:`provcheck.policy.loader`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from provcheck.attestation.keys import PublicKey
from provcheck.attestation.signatures import Identity, TrustConfig
from provcheck.discovery.model import TrustLevel
from provcheck.errors import PolicyError
from provcheck.policy.exemptions import Exemption
from provcheck.predicates import PredicateKind
from provcheck.report.model import OnIncomplete
from provcheck.sbom.licenses import LicenseRules
from provcheck.sbom.model import SbomFormat
from provcheck.sbom.versions import PurlPattern

if TYPE_CHECKING:  # parsed by the loader, which imports it only for a policy that names one
    from provcheck.attestation.tlog import TrustedRoot

API_VERSION: Final = "provcheck/v1"
KIND: Final = "Policy"

EVIDENCE_KINDS: Final[Mapping[str, PredicateKind]] = {
    "provenance": PredicateKind.PROVENANCE,
    "frontend": PredicateKind.PROVENANCE,
    "build-args": PredicateKind.PROVENANCE,
    "base-images": PredicateKind.PROVENANCE,
    "builder": PredicateKind.PROVENANCE,
    "sbom": PredicateKind.SBOM,
}
"""The rules that read attestations (so may set ``min-trust``), and the kind they read."""

MIN_TRUST_NEEDS_KEYS: Final = "min-trust: signed needs keys or identities in the signatures rule"


@dataclass(frozen=True, slots=True)
class ProvenanceOptions:
    """``rules.provenance``."""

    required: bool = True
    mode: str | None = None
    max_age: timedelta | None = None


@dataclass(frozen=True, slots=True)
class PlatformsOptions:
    """``rules.platforms``: normalised ``os/arch[/variant]`` keys."""

    required: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FrontendOptions:
    """``rules.frontend``."""

    allow: tuple[str, ...]
    pinned: bool = False


@dataclass(frozen=True, slots=True)
class BuildArgsOptions:
    """``rules.build-args``."""

    secrets: str = "deny"
    allow_names: frozenset[str] = frozenset()


DEFAULT_SBOM_GENERATORS: Final = ("docker.io/docker/buildkit-syft-scanner*",)


@dataclass(frozen=True, slots=True)
class BaseImagesOptions:
    """``rules.base-images``."""

    allow: tuple[str, ...]
    sbom_generators: tuple[str, ...] = DEFAULT_SBOM_GENERATORS


@dataclass(frozen=True, slots=True)
class BuilderOptions:
    """``rules.builder``."""

    allow: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SbomOptions:
    """``rules.sbom``: presence, accepted formats, denied packages, license lists.

    ``licenses.allow`` is ``None`` when ``allow-licenses`` is absent or empty.
    """

    required: bool = True
    formats: frozenset[SbomFormat] = frozenset(SbomFormat)
    deny_packages: tuple[PurlPattern, ...] = ()
    licenses: LicenseRules = field(default_factory=lambda: LicenseRules(None, frozenset()))


@dataclass(frozen=True, slots=True)
class SignaturesOptions:
    """``rules.signatures``: keys and the trusted root are parsed already, once, when the
    policy is loaded (evaluating it reads no file)."""

    required: bool = True
    keys: tuple[PublicKey, ...] = ()
    identities: tuple[Identity, ...] = ()
    threshold: int = 1
    trusted_root: TrustedRoot | None = None
    tlog_required: bool = False
    attestations: tuple[str, ...] = ("provenance",)

    def trust(self) -> TrustConfig:
        """The trust material. Raises :class:`UsageError` when there is no key or identity."""
        return TrustConfig(
            self.keys, self.identities, self.threshold, self.trusted_root, self.tlog_required
        )


@dataclass(frozen=True, slots=True)
class VsaOptions:
    """``rules.vsa``: the keys a verification summary must be signed by (parsed when the policy
    is loaded), the sha256 hex of the policy file it must name, and how old it may be."""

    keys: tuple[PublicKey, ...]
    policy_digest: str | None = None
    max_age: timedelta | None = None


RuleOptions = (
    ProvenanceOptions
    | PlatformsOptions
    | FrontendOptions
    | BuildArgsOptions
    | BaseImagesOptions
    | BuilderOptions
    | SbomOptions
    | SignaturesOptions
    | VsaOptions
)


@dataclass(frozen=True, slots=True)
class Policy:
    """A policy: its name, what ``incomplete`` means, and the options of each rule it enables.

    Raises :class:`PolicyError` when it enables no rule (an empty policy must not pass).
    """

    name: str
    rules: Mapping[str, RuleOptions] = field(hash=False)
    on_incomplete: OnIncomplete = OnIncomplete.FAIL
    source: str = "<policy>"
    min_trust: Mapping[str, TrustLevel] = field(default_factory=dict, hash=False)
    """``rules.<name>.min-trust``: the weakest trust level of the attestations that rule may
    read (attestations below it are ignored, and the rule says so). Absent: any trust."""
    exemptions: tuple[Exemption, ...] = ()
    """``exemptions``: what an admission gate allows unverified (see
    :mod:`provcheck.policy.exemptions`); verification ignores them."""

    def __post_init__(self) -> None:
        if not self.rules:
            raise PolicyError(f"{self.source}: the policy enables no rule")
        for name, level in self.min_trust.items():
            problem = min_trust_problem(name, level, self.rules)
            if problem is not None:
                raise PolicyError(f"{self.source}: rules.{name}.min-trust: {problem}")


def min_trust_problem(name: str, level: TrustLevel, rules: Mapping[str, RuleOptions]) -> str | None:
    """Why ``rules.<name>.min-trust: <level>`` cannot be used, or ``None`` when it can.

    Fails closed: ``signed`` without a trusted key or identity could never be met, and would
    otherwise only show up as a failure at evaluation time.
    """
    if name not in EVIDENCE_KINDS:
        return f"the {name} rule reads no attestation, so min-trust does not apply to it"
    if name not in rules:
        return f"the policy has no {name} rule"
    if level is TrustLevel.SIGNED:
        signatures = rules.get("signatures")
        if not isinstance(signatures, SignaturesOptions) or not (
            signatures.keys or signatures.identities
        ):
            return MIN_TRUST_NEEDS_KEYS
    return None

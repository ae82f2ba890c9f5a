"""The built-in rules, by the name they have in policy files."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from provcheck.policy.rules.base import EvaluationContext, PlatformContext, ProvenanceRecord, Rule
from provcheck.policy.rules.base_images import BaseImagesRule
from provcheck.policy.rules.build_args import BuildArgsRule
from provcheck.policy.rules.builder import BuilderRule
from provcheck.policy.rules.frontend import FrontendRule
from provcheck.policy.rules.platforms import PlatformsRule
from provcheck.policy.rules.provenance import ProvenanceRule
from provcheck.policy.rules.sbom import SbomRule
from provcheck.policy.rules.signatures import SignaturesRule
from provcheck.policy.rules.vsa import VsaRule

RULES: Final[Mapping[str, Rule]] = MappingProxyType(
    {
        r.name: r
        for r in (
            ProvenanceRule(),
            PlatformsRule(),
            FrontendRule(),
            BuildArgsRule(),
            BaseImagesRule(),
            BuilderRule(),
            SbomRule(),
            SignaturesRule(),
            VsaRule(),
        )
    }
)

__all__ = ["RULES", "EvaluationContext", "PlatformContext", "ProvenanceRecord", "Rule"]

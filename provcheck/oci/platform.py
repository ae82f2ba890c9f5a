"""Platforms (``os/arch[/variant]``) normalised the way containerd and buildx do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from provcheck.errors import UsageError

_ARCH_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "i386": "386",
        "i486": "386",
        "i586": "386",
        "i686": "386",
        "x86_64": "amd64",
        "x86-64": "amd64",
        "aarch64": "arm64",
        "armhf": "arm",
        "armel": "arm",
    }
)


def _normalise_arch(arch: str, variant: str) -> tuple[str, str]:
    """containerd's ``normalizeArch``: canonical architecture and variant names."""
    arch, variant = arch.lower(), variant.lower()
    original = arch
    arch = _ARCH_ALIASES.get(arch, arch)
    if original == "armhf":
        variant = "v7"
    elif original == "armel":
        variant = "v6"
    if arch == "amd64" and variant == "v1":
        variant = ""
    elif arch == "arm64":
        if variant in ("8", "v8", "v8.0"):
            variant = ""
        elif variant in ("9", "9.0", "v9.0"):
            variant = "v9"
        elif variant and not variant.startswith("v"):
            variant = "v" + variant
    elif arch == "arm":
        if variant in ("", "7"):
            variant = "v7"
        elif variant in ("5", "6", "8"):
            variant = "v" + variant
    return arch, variant


@dataclass(frozen=True, slots=True)
class Platform:
    """A platform as recorded in a descriptor or an image config."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os/arch[/variant]`` (as given on a command line or in a policy).

        Raises :class:`UsageError` when it does not have two or three non-empty parts.
        """
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    @classmethod
    def from_dict(cls, data: object) -> Platform | None:
        """Read an OCI ``platform`` object or an image config; ``None`` if it has none."""
        if not isinstance(data, dict):
            return None
        os_, arch = data.get("os"), data.get("architecture")
        if not isinstance(os_, str) or not isinstance(arch, str):
            return None
        variant, os_version = data.get("variant", ""), data.get("os.version", "")
        return cls(
            os_,
            arch,
            variant if isinstance(variant, str) else "",
            os_version if isinstance(os_version, str) else "",
        )

    def normalized(self) -> Platform:
        """The canonical form for comparison: ``arm64/v8`` = ``arm64``, ``arm`` = ``arm/v7``."""
        arch, variant = _normalise_arch(self.architecture, self.variant)
        return Platform(self.os.lower(), arch, variant, self.os_version)

    @property
    def key(self) -> str:
        """``os/arch[/variant]`` of the normalised platform, as buildx keys its output."""
        p = self.normalized()
        parts = [p.os or "unknown", p.architecture]
        if p.variant:
            parts.append(p.variant)
        return "/".join(parts)

    @property
    def is_unknown(self) -> bool:
        """True for BuildKit's ``unknown/unknown`` attestation entries."""
        return self.os == "unknown" and self.architecture == "unknown"

    def __str__(self) -> str:
        return self.key

"""Image references: ``[registry/]repo[:tag][@digest]`` with Docker's normalisation, and local
OCI image layouts as ``oci-layout://PATH[:TAG|@DIGEST]`` (the syntax buildx uses)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from provcheck.errors import InvalidReferenceError, ManifestError
from provcheck.oci.digest import Digest

DOCKER_HUB: Final = "docker.io"
DOCKER_HUB_ENDPOINT: Final = "registry-1.docker.io"
LAYOUT_SCHEME: Final = "oci-layout://"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?"
)
_MAX_NAME = 255


def _parse_digest(text: str, whole: str) -> Digest:
    try:
        return Digest.parse(text)
    except ManifestError as exc:
        raise InvalidReferenceError(f"invalid reference {whole!r}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A normalised registry reference, e.g. ``docker.io/library/alpine:latest``."""

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parse and normalise a reference as ``docker`` does.

        ``alpine`` becomes ``docker.io/library/alpine:latest``; a reference with a digest and no
        tag gets no tag. Raises :class:`InvalidReferenceError` with one clear line.
        """
        if not text or text != text.strip():
            raise InvalidReferenceError(f"invalid reference {text!r}: empty or padded with spaces")
        rest, at, digest_text = text.partition("@")
        digest = _parse_digest(digest_text, text) if at else None
        tag: str | None = None
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash:
            rest, tag = rest[:colon], rest[colon + 1 :]
            if not _TAG.fullmatch(tag):
                raise InvalidReferenceError(f"invalid reference {text!r}: invalid tag {tag!r}")
        first, sep, remainder = rest.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
            registry, repository = first, remainder
            if not _DOMAIN.fullmatch(registry):
                raise InvalidReferenceError(
                    f"invalid reference {text!r}: invalid registry {registry!r}"
                )
        else:
            registry, repository = DOCKER_HUB, rest
        if registry == "index.docker.io":
            registry = DOCKER_HUB
        if registry == DOCKER_HUB and "/" not in repository:
            repository = f"library/{repository}"
        if repository != repository.lower() and _REPOSITORY.fullmatch(repository.lower()):
            raise InvalidReferenceError(
                f"invalid reference {text!r}: repository name must be lowercase"
            )
        if not _REPOSITORY.fullmatch(repository):
            raise InvalidReferenceError(
                f"invalid reference {text!r}: invalid repository name {repository!r}"
            )
        if len(f"{registry}/{repository}") > _MAX_NAME:
            raise InvalidReferenceError(f"invalid reference {text[:80]!r}…: name too long")
        if tag is None and digest is None:
            tag = "latest"
        return cls(registry, repository, tag, digest)

    @property
    def endpoint(self) -> str:
        """The host (and port) that serves the registry API."""
        return DOCKER_HUB_ENDPOINT if self.registry == DOCKER_HUB else self.registry

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_reference(self) -> str:
        """What goes after ``/manifests/``: the digest when pinned, else the tag."""
        if self.digest is not None:
            return str(self.digest)
        assert self.tag is not None  # parse() guarantees a tag or a digest
        return self.tag

    def with_digest(self, digest: Digest) -> ImageReference:
        """The same reference pinned to ``digest``."""
        return ImageReference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        out = self.name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out


@dataclass(frozen=True, slots=True)
class LayoutReference:
    """An image in a local OCI image layout directory."""

    path: Path
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str) -> LayoutReference:
        """Parse ``oci-layout://PATH[:TAG|@DIGEST]``. Raises :class:`InvalidReferenceError`."""
        if not text.startswith(LAYOUT_SCHEME):
            raise InvalidReferenceError(f"invalid layout reference {text!r}: no {LAYOUT_SCHEME}")
        rest = text[len(LAYOUT_SCHEME) :]
        path, at, digest_text = rest.partition("@")
        digest = _parse_digest(digest_text, text) if at else None
        tag: str | None = None
        colon, slash = path.rfind(":"), path.rfind("/")
        if colon > slash:
            path, tag = path[:colon], path[colon + 1 :]
            if not _TAG.fullmatch(tag):
                raise InvalidReferenceError(f"invalid reference {text!r}: invalid tag {tag!r}")
        if not path:
            raise InvalidReferenceError(f"invalid reference {text!r}: empty path")
        return cls(Path(path), tag, digest)

    def __str__(self) -> str:
        out = f"{LAYOUT_SCHEME}{self.path}"
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out


Reference = ImageReference | LayoutReference


def parse_repository(text: str) -> ImageReference:
    """Parse a repository name, ``[registry/]repo`` (cosign's ``COSIGN_REPOSITORY``), normalised
    as Docker does, with neither tag nor digest (``tag`` and ``digest`` are ``None``).

    Raises :class:`InvalidReferenceError` for a malformed name, one with a tag or digest, or an
    ``oci-layout://`` path.
    """
    if "://" in text:
        raise InvalidReferenceError(f"invalid repository {text!r}: a registry repository, no URL")
    if "@" in text or ":" in text.rpartition("/")[2]:
        raise InvalidReferenceError(
            f"invalid repository {text!r}: a repository takes no tag or digest"
        )
    parsed = ImageReference.parse(text)
    return ImageReference(parsed.registry, parsed.repository)


def parse_reference(text: str) -> Reference:
    """Parse a registry reference or an ``oci-layout://`` reference.

    Raises :class:`InvalidReferenceError` with one clear line.
    """
    if text.startswith(LAYOUT_SCHEME):
        return LayoutReference.parse(text)
    if "://" in text:
        raise InvalidReferenceError(
            f"invalid reference {text!r}: only {LAYOUT_SCHEME} is supported as a scheme"
        )
    return ImageReference.parse(text)

"""Media types, annotation keys and artifact types used by OCI, Docker, BuildKit and cosign."""

from __future__ import annotations

from typing import Final

OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1_SIGNED: Final = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_SCHEMA1: Final = "application/vnd.docker.distribution.manifest.v1+json"

INDEX_TYPES: Final = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ALL_MANIFEST_TYPES: Final = INDEX_TYPES | MANIFEST_TYPES

# The Accept header a registry client sends: every manifest kind we can read (distribution 2.8
# answers 404 for an index when the index type is missing from Accept).
MANIFEST_ACCEPT: Final = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST))

OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
OCI_EMPTY: Final = "application/vnd.oci.empty.v1+json"

IN_TOTO: Final = "application/vnd.in-toto+json"
DSSE_ENVELOPE: Final = "application/vnd.dsse.envelope.v1+json"
COSIGN_SIMPLESIGNING: Final = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGSTORE_BUNDLE_V03: Final = "application/vnd.dev.sigstore.bundle.v0.3+json"

SPDX_JSON: Final = "application/spdx+json"
"""SPDX JSON as an artifact (``oras attach --artifact-type application/spdx+json``)."""
CYCLONEDX_JSON: Final = "application/vnd.cyclonedx+json"
"""CycloneDX JSON as an artifact (may carry a ``; version=1.5`` parameter)."""

ATTESTATION_MANIFEST_ARTIFACT: Final = "application/vnd.docker.attestation.manifest.v1+json"

# Annotation keys.
REFERENCE_TYPE: Final = "vnd.docker.reference.type"
REFERENCE_DIGEST: Final = "vnd.docker.reference.digest"
COM_REFERENCE_DIGEST: Final = "com.docker.reference.digest"
ATTESTATION_MANIFEST: Final = "attestation-manifest"
PREDICATE_TYPE: Final = "in-toto.io/predicate-type"
REF_NAME: Final = "org.opencontainers.image.ref.name"


def is_in_toto_dsse(media_type: str) -> bool:
    """True for ``application/vnd.in-toto.<predicate>+dsse`` layers (docker/attest, buildx)."""
    return media_type.startswith("application/vnd.in-toto.") and media_type.endswith("+dsse")


# provcheck evidence packs (an OCI image layout; see provcheck/evidence/pack.py)
EVIDENCE_VERSION: Final = "dev.provcheck.evidence.version"
"""``index.json`` annotation marking an evidence pack (value ``1``): every blob is checked."""
EVIDENCE_ROLE: Final = "dev.provcheck.evidence.role"
"""What an ``index.json`` entry of a pack is (:class:`provcheck.evidence.pack.PackRole`)."""
EVIDENCE_REFERRERS_OF: Final = "dev.provcheck.evidence.referrers-of"
"""On a recorded referrers answer (an OCI index): the digest whose referrers it lists."""
EVIDENCE_REPOSITORY: Final = "dev.provcheck.evidence.repository"
"""On a ``tag`` or ``referrers`` entry read from the attestations repository: value
:data:`EVIDENCE_ELSEWHERE` (an entry without it is of the image's own repository)."""
EVIDENCE_ELSEWHERE: Final = "attestations-repo"
EVIDENCE_ATTESTATIONS_REPOSITORY: Final = "dev.provcheck.evidence.attestations-repository"
"""``index.json`` annotation: the attestations repository (``registry/repository``) the run
read, whose entries a replay serves as that repository."""
EVIDENCE_ROLE_SUBJECT: Final = "subject"
EVIDENCE_ROLE_REFERRERS: Final = "referrers"
TITLE: Final = "org.opencontainers.image.title"

"""Build BuildKit-shaped images as bytes, for edge cases the real fixtures lack.

In the spirit of python-tuf's ``tests/repository_simulator.py``::

    builder = ImageBuilder("app")
    amd64 = builder.add_platform("linux/amd64")
    builder.attest(amd64, [provenance_statement(amd64.digest, build_args={"V": "1"})])
    image = builder.build()              # OCI index; image.root_digest, image.blobs
    image.write_layout(tmp_path / "layout")
    image.push(registry_server, "t/app", "1")

Output is deterministic (fixed timestamps, gzip mtime 0). Manifests and indexes are indented
with two spaces and configs/statements are compact JSON, like BuildKit writes them.
Negative cases: ``BuiltImage.tampered``/``.without_blob``/``.with_descriptor_size`` and
``set_subject_digest``.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import gzip
import io
import json
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import quote

import httpx

from tests.oci_push import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    push_blob,
    push_manifest,
    sha256_digest,
)
from tests.registry import RegistryServer

OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_EMPTY: Final = "application/vnd.oci.empty.v1+json"
EMPTY_DIGEST: Final = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
IN_TOTO: Final = "application/vnd.in-toto+json"
DSSE_ENVELOPE: Final = "application/vnd.dsse.envelope.v1+json"
ATTESTATION_ARTIFACT: Final = "application/vnd.docker.attestation.manifest.v1+json"
PREDICATE_TYPE_ANNOTATION: Final = "in-toto.io/predicate-type"
REFERENCE_TYPE: Final = "vnd.docker.reference.type"
REFERENCE_DIGEST: Final = "vnd.docker.reference.digest"
STATEMENT_V01: Final = "https://in-toto.io/Statement/v0.1"
STATEMENT_V1: Final = "https://in-toto.io/Statement/v1"
SLSA_V02: Final = "https://slsa.dev/provenance/v0.2"
SLSA_V1: Final = "https://slsa.dev/provenance/v1"
SPDX_DOCUMENT: Final = "https://spdx.dev/Document"
BUILDTYPE_V02: Final = "https://mobyproject.org/buildkit@v1"
BUILDTYPE_V1: Final = (
    "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md"
)
METADATA_V02: Final = "https://mobyproject.org/buildkit@v1#metadata"
DEFAULT_IMAGE: Final = "localhost:5000/synthetic/app:1"
CREATED: Final = "2026-01-01T00:00:00Z"
FINISHED: Final = "2026-01-01T00:00:01Z"
DEFAULT_PATH_ENV: Final = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# -- serialisation ------------------------------------------------------------------------------
def manifest_bytes(document: Mapping[str, Any]) -> bytes:
    """Indented like BuildKit's manifests and indexes (Go ``json.MarshalIndent``, two spaces)."""
    return json.dumps(document, indent=2, ensure_ascii=False).encode()


def compact_bytes(document: Mapping[str, Any]) -> bytes:
    """Compact like BuildKit's configs and statements (Go ``json.Marshal``)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def descriptor(media_type: str, content: bytes, /, **extra: Any) -> dict[str, Any]:
    """``{"mediaType", "digest", "size", **extra}`` for ``data``."""
    return {
        "mediaType": media_type,
        "digest": sha256_digest(content),
        "size": len(content),
        **extra,
    }


def parse_platform(platform: str) -> dict[str, str]:
    """``linux/arm/v7`` -> ``{"architecture": "arm", "os": "linux", "variant": "v7"}``."""
    os_, arch, *variant = platform.split("/")
    result = {"architecture": arch, "os": os_}
    if variant:
        result["variant"] = variant[0]
    return result


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1] if ":" in digest else digest


# -- statements ---------------------------------------------------------------------------------
def image_purl(image: str = DEFAULT_IMAGE, platform: str | None = "linux/amd64") -> str:
    """BuildKit's subject name: ``pkg:docker/localhost%3A5000/synthetic/app@1?platform=...``."""
    name, _, tag = (
        image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    )
    host, _, path = name.partition("/")
    namespace = f"{quote(host, safe='')}/{path}" if path else host
    purl = f"pkg:docker/{namespace}@{tag}"
    return f"{purl}?platform={quote(platform, safe='')}" if platform else purl


def _statement(
    predicate_type: str,
    subject_digest: str,
    predicate: dict[str, Any],
    *,
    image: str,
    platform: str,
    statement_version: Literal["v0.1", "v1"],
) -> dict[str, Any]:
    return {
        "_type": STATEMENT_V1 if statement_version == "v1" else STATEMENT_V01,
        "predicateType": predicate_type,
        "subject": [
            {"name": image_purl(image, platform), "digest": {"sha256": _hex(subject_digest)}}
        ],
        "predicate": predicate,
    }


def material(uri: str, digest: str) -> dict[str, Any]:
    """One v0.2 material / v1 resolvedDependency: ``{"uri", "digest": {"sha256": hex}}``."""
    return {"uri": uri, "digest": {"sha256": _hex(digest)}}


def _build_config(args: Mapping[str, str], platform: str) -> dict[str, Any]:
    """A small max-mode ``buildConfig``: a source op and one exec op whose env has the ARGs."""
    env = ["PATH=/bin", *(f"{k.removeprefix('build-arg:')}={v}" for k, v in args.items())]
    plat = {"Architecture": parse_platform(platform)["architecture"], "OS": "linux"}
    source = {"source": {"identifier": "docker-image://docker.io/library/busybox:latest"}}
    exec_ = {"exec": {"meta": {"args": ["/bin/sh", "-c", "true"], "env": env, "cwd": "/"}}}
    return {
        "llbDefinition": [
            {"id": "step0", "op": {"Op": source, "platform": plat, "constraints": {}}},
            {
                "id": "step1",
                "op": {"Op": exec_, "platform": plat, "constraints": {}},
                "inputs": ["step0:0"],
            },
        ],
        "digestMapping": {
            sha256_digest(b"step0"): "step0",
            sha256_digest(b"step1"): "step1",
        },
    }


def provenance_statement(
    subject_digest: str,
    *,
    platform: str = "linux/amd64",
    image: str = DEFAULT_IMAGE,
    statement_version: Literal["v0.1", "v1"] = "v0.1",
    slsa: Literal["v0.2", "v1"] = "v0.2",
    mode: Literal["min", "max"] = "max",
    build_args: Mapping[str, str] | None = None,
    frontend: str = "dockerfile.v0",
    source: str | None = None,
    contexts: Mapping[str, str] | None = None,
    materials: Sequence[Mapping[str, Any]] = (),
    secrets: Sequence[Mapping[str, Any]] = (),
    builder_platform: str = "linux/amd64",
    invocation_id: str = "synthetic0invocation0id00",
) -> dict[str, Any]:
    """A BuildKit SLSA provenance statement shaped like the real ones in fixtures/real.

    ``build_args`` are names without the ``build-arg:`` prefix. ``source`` (a ``# syntax=`` image)
    switches the frontend to ``gateway.v0`` with ``args.source`` = ``args.cmdline``. ``contexts``
    maps a named context to its value (``context:NAME`` args, kept in both modes). min mode
    drops build args and secrets (``completeness`` false when args were dropped) and buildConfig.
    """
    args: dict[str, str] = {}
    if mode == "max":
        args.update({f"build-arg:{k}": v for k, v in (build_args or {}).items()})
    if source is not None:
        frontend = "gateway.v0"
        args.update({"source": source, "cmdline": source})
    args.update({f"context:{name}": value for name, value in (contexts or {}).items()})
    args = dict(sorted(args.items()))
    complete = mode == "max" or not build_args
    request: dict[str, Any] = {"frontend": frontend}
    if args:
        request["args"] = args
    if mode == "max" and secrets:
        request["secrets"] = [dict(s) for s in secrets]
    request["locals"] = [{"name": "context"}, {"name": "dockerfile"}]
    deps = [dict(m) for m in materials]
    build_config = _build_config(args, platform) if mode == "max" else None
    bk_metadata: dict[str, Any] = {}
    if mode == "max":
        dockerfile = base64.b64encode(b"FROM scratch\n").decode()
        bk_metadata = {
            "source": {
                "infos": [{"filename": "Dockerfile", "language": "Dockerfile", "data": dockerfile}]
            },
            "layers": {},
        }
    predicate: dict[str, Any]
    if slsa == "v0.2":
        predicate = {"builder": {"id": ""}, "buildType": BUILDTYPE_V02}
        if deps:
            predicate["materials"] = deps
        predicate["invocation"] = {
            "configSource": {"entryPoint": "Dockerfile"},
            "parameters": request,
            "environment": {"platform": builder_platform},
        }
        if build_config is not None:
            predicate["buildConfig"] = build_config
        predicate["metadata"] = {
            "buildInvocationID": invocation_id,
            "buildStartedOn": CREATED,
            "buildFinishedOn": FINISHED,
            "completeness": {"parameters": complete, "environment": True, "materials": False},
            "reproducible": False,
            METADATA_V02: bk_metadata,
        }
        predicate_type = SLSA_V02
    else:
        definition: dict[str, Any] = {"buildType": BUILDTYPE_V1}
        if deps:
            definition["resolvedDependencies"] = deps
        definition["externalParameters"] = {
            "configSource": {"path": "Dockerfile"},
            "request": request,
        }
        internal: dict[str, Any] = {}
        if build_config is not None:
            internal["buildConfig"] = build_config
        internal["builderPlatform"] = builder_platform
        definition["internalParameters"] = internal
        id_key = "invocationId" if statement_version == "v1" else "invocationID"
        predicate = {
            "buildDefinition": definition,
            "runDetails": {
                "builder": {"id": ""},
                "metadata": {
                    id_key: invocation_id,
                    "startedOn": CREATED,
                    "finishedOn": FINISHED,
                    "buildkit_metadata": bk_metadata,
                    "buildkit_completeness": {"request": complete, "resolvedDependencies": False},
                },
            },
        }
        predicate_type = SLSA_V1
    return _statement(
        predicate_type,
        subject_digest,
        predicate,
        image=image,
        platform=platform,
        statement_version=statement_version,
    )


def spdx_statement(
    subject_digest: str,
    packages: Sequence[Mapping[str, str]] = (),
    *,
    platform: str = "linux/amd64",
    image: str = DEFAULT_IMAGE,
    statement_version: Literal["v0.1", "v1"] = "v0.1",
    creators: Sequence[str] = ("Tool: buildkit-v0.26.3",),
) -> dict[str, Any]:
    """An SPDX 2.3 SBOM statement (``https://spdx.dev/Document``).

    ``packages``: ``{"name": ..., "version": ..., "purl": ...}`` (version and purl optional).
    """
    spdx_packages: list[dict[str, Any]] = []
    relationships: list[dict[str, str]] = []
    for n, pkg in enumerate(packages, start=1):
        spdx_id = f"SPDXRef-Package-{n}"
        entry: dict[str, Any] = {"name": pkg["name"], "SPDXID": spdx_id}
        if "version" in pkg:
            entry["versionInfo"] = pkg["version"]
        entry["downloadLocation"] = "NOASSERTION"
        entry["filesAnalyzed"] = False
        if "purl" in pkg:
            entry["externalRefs"] = [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": pkg["purl"],
                }
            ]
        spdx_packages.append(entry)
        relationships.append(
            {
                "spdxElementId": "SPDXRef-DOCUMENT",
                "relatedSpdxElement": spdx_id,
                "relationshipType": "DESCRIBES",
            }
        )
    predicate = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "sbom",
        "documentNamespace": f"https://provcheck.invalid/spdx/{_hex(subject_digest)}",
        "creationInfo": {"creators": list(creators), "created": CREATED},
        "packages": spdx_packages,
        "relationships": relationships,
    }
    return _statement(
        SPDX_DOCUMENT,
        subject_digest,
        predicate,
        image=image,
        platform=platform,
        statement_version=statement_version,
    )


def dsse_envelope(
    statement: Mapping[str, Any],
    signers: Sequence[Callable[[bytes], bytes]] = (),
    *,
    payload_type: str = IN_TOTO,
    keyid: str = "",
) -> dict[str, Any]:
    """A DSSE envelope of ``statement`` (compact JSON), signed by each of ``signers`` (a function
    from the pre-authentication encoding to signature bytes, e.g. an Ed25519 key's ``sign``).

    To tamper, replace ``payload`` afterwards: the signatures still cover the original.
    """
    payload = compact_bytes(statement)
    kind = payload_type.encode()
    message = b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [
            {"keyid": keyid, "sig": base64.b64encode(sign(message)).decode()} for sign in signers
        ],
    }


def set_subject_digest(statement: Mapping[str, Any], digest: str, index: int = 0) -> dict[str, Any]:
    """A copy of ``statement`` whose subject ``index`` names another sha256 digest."""
    result = copy.deepcopy(dict(statement))
    result["subject"][index]["digest"] = {"sha256": _hex(digest)}
    return result


# -- images -------------------------------------------------------------------------------------
def _layer_tar(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"app/{name}")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@dataclass(slots=True)
class PlatformEntry:
    """One platform image: its manifest, config and layer, plus its index descriptor."""

    platform: str
    manifest: bytes
    media_type: str
    blobs: dict[str, bytes]
    config: dict[str, Any]

    @property
    def digest(self) -> str:
        """Digest of the platform manifest (what BuildKit's statement subjects name)."""
        return sha256_digest(self.manifest)

    @property
    def descriptor(self) -> dict[str, Any]:
        """Its descriptor in an index, with ``platform``."""
        return descriptor(self.media_type, self.manifest, platform=parse_platform(self.platform))


@dataclass(slots=True)
class AttestationEntry:
    """One attestation manifest and its index descriptor."""

    for_platform: PlatformEntry
    manifest: bytes
    descriptor: dict[str, Any]
    blobs: dict[str, bytes]
    statements: list[dict[str, Any]]

    @property
    def digest(self) -> str:
        """Digest of the attestation manifest."""
        return sha256_digest(self.manifest)


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """An image as bytes: the root descriptor and every blob (manifests included) by digest.

    ``originals`` keeps the true bytes of tampered or dropped blobs so that :meth:`push` can get
    them past the registry's digest check and then break them there.
    """

    root: dict[str, Any]
    blobs: dict[str, bytes]
    platforms: tuple[PlatformEntry, ...] = ()
    attestations: tuple[AttestationEntry, ...] = ()
    tampered_digests: frozenset[str] = frozenset()
    dropped_digests: frozenset[str] = frozenset()
    originals: dict[str, bytes] = field(default_factory=dict)

    @property
    def root_digest(self) -> str:
        """Digest of the root index or manifest."""
        digest: str = self.root["digest"]
        return digest

    @property
    def root_bytes(self) -> bytes:
        """Bytes of the root index or manifest."""
        return self.blobs[self.root_digest]

    @property
    def media_type(self) -> str:
        """Media type of the root."""
        media_type: str = self.root["mediaType"]
        return media_type

    def document(self, digest: str) -> dict[str, Any]:
        """A stored JSON blob, parsed."""
        result: dict[str, Any] = json.loads(self.blobs[digest])
        return result

    # -- output ---------------------------------------------------------------------------------
    def write_layout(self, path: Path, tag: str | None = "1") -> Path:
        """Write an OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``)."""
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        root = dict(self.root)
        if tag is not None:
            root["annotations"] = {"org.opencontainers.image.ref.name": tag}
        index = {"schemaVersion": 2, "manifests": [root]}
        (path / "index.json").write_bytes(compact_bytes(index))
        for digest, data in self.blobs.items():
            (path / "blobs" / "sha256" / _hex(digest)).write_bytes(data)
        return path

    def push(
        self,
        registry: str | RegistryServer,
        repository: str,
        tag: str | None = "1",
        *,
        client: httpx.Client | None = None,
    ) -> str:
        """Push children first, then the root (under ``tag``); return the root digest.

        Dropped blobs are uploaded, then deleted (``DELETE /v2/<name>/blobs/<d>``). Tampered
        blobs need a :class:`RegistryServer`, whose storage is rewritten afterwards: that changes
        the blob for every repository of that server, so tamper only bytes unique to your test.

        Raises:
            ValueError: tampered blobs but ``registry`` is a URL.
            PushError: the registry refused something.
        """
        if self.tampered_digests and not isinstance(registry, RegistryServer):
            raise ValueError("pushing tampered blobs needs a RegistryServer")
        url = registry.url if isinstance(registry, RegistryServer) else registry
        with httpx.Client(timeout=30.0) if client is None else _nullcontext(client) as c:
            self._push_tree(url, repository, self.root, c, set())
            if tag is not None:
                push_manifest(url, repository, tag, self.root_bytes, self.media_type, client=c)
            for digest in sorted(self.dropped_digests):
                kind = "manifests" if self._is_manifest(digest) else "blobs"
                response = c.delete(f"{url}/v2/{repository}/{kind}/{digest}")
                if response.status_code != 202:
                    raise ValueError(f"DELETE {digest} -> {response.status_code}")
        if isinstance(registry, RegistryServer):
            for digest in sorted(self.tampered_digests):
                registry.tamper_blob(digest, self.blobs[digest])
        return self.root_digest

    def _is_manifest(self, digest: str) -> bool:
        try:
            document = json.loads(self._true_bytes(digest))
        except ValueError:
            return False
        return isinstance(document, dict) and (
            document.get("mediaType") in INDEX_TYPES | {OCI_MANIFEST, DOCKER_MANIFEST}
        )

    def _true_bytes(self, digest: str) -> bytes:
        return self.originals[digest] if digest in self.originals else self.blobs[digest]

    def _push_tree(
        self, url: str, repository: str, desc: Mapping[str, Any], c: httpx.Client, done: set[str]
    ) -> None:
        digest: str = desc["digest"]
        if digest in done:
            return
        body = self._true_bytes(digest)
        document = json.loads(body)
        if desc["mediaType"] in INDEX_TYPES:
            for child in document["manifests"]:
                self._push_tree(url, repository, child, c, done)
        else:
            for blob in [document["config"], *document.get("layers", [])]:
                push_blob(
                    url,
                    repository,
                    self._true_bytes(blob["digest"]),
                    digest=blob["digest"],
                    client=c,
                )
        push_manifest(url, repository, digest, body, desc["mediaType"], client=c)
        done.add(digest)

    # -- tampering ------------------------------------------------------------------------------
    def tampered(self, digest: str, data: bytes) -> BuiltImage:
        """Same descriptors, but the blob ``digest`` now holds ``data`` (digest mismatch)."""
        if digest not in self.blobs:
            raise KeyError(digest)
        originals = {digest: self._true_bytes(digest), **self.originals}
        return dataclasses.replace(
            self,
            blobs={**self.blobs, digest: data},
            tampered_digests=self.tampered_digests | {digest},
            originals=originals,
        )

    def without_blob(self, digest: str) -> BuiltImage:
        """The blob ``digest`` is missing (its descriptors stay)."""
        blobs = dict(self.blobs)
        data = blobs.pop(digest)
        return dataclasses.replace(
            self,
            blobs=blobs,
            dropped_digests=self.dropped_digests | {digest},
            originals={digest: self.originals.get(digest, data), **self.originals},
        )

    def with_descriptor_size(self, digest: str, size: int) -> BuiltImage:
        """Every descriptor of ``digest`` claims ``size``; parents are re-serialised and re-digested
        up to the root (``subject`` and ``vnd.docker.reference.digest`` follow renamed digests).
        """
        blobs = dict(self.blobs)
        renamed: dict[str, str] = {}
        found = False

        def rewrite(desc: dict[str, Any]) -> dict[str, Any]:
            old = desc["digest"]
            new_desc = dict(desc)
            if (
                desc.get("mediaType") in INDEX_TYPES | {OCI_MANIFEST, DOCKER_MANIFEST}
                and old in blobs
            ):
                document = json.loads(blobs[old])
                changed = False
                for key in ("manifests", "layers"):
                    if key in document:
                        children = [rewrite(child) for child in document[key]]
                        changed |= children != document[key]
                        document[key] = children
                for key in ("config", "subject"):
                    if key in document:
                        child = rewrite(document[key])
                        changed |= child != document[key]
                        document[key] = child
                for child in document.get("manifests", []):
                    annotations = child.get("annotations") or {}
                    if annotations.get(REFERENCE_DIGEST) in renamed:
                        annotations[REFERENCE_DIGEST] = renamed[annotations[REFERENCE_DIGEST]]
                        changed = True
                if changed:
                    body = manifest_bytes(document)
                    new_digest = sha256_digest(body)
                    blobs[new_digest] = body
                    renamed[old] = new_digest
                    new_desc.update(digest=new_digest, size=len(body))
            elif old in renamed:
                new_desc["digest"] = renamed[old]
            if old == digest:
                nonlocal found
                found = True
                new_desc["size"] = size
            return new_desc

        root = rewrite(dict(self.root))
        if not found:
            raise KeyError(f"no descriptor of {digest} in this image")
        return dataclasses.replace(self, root=root, blobs=blobs)


class _nullcontext:
    """``contextlib.nullcontext`` typed for an httpx.Client."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def __enter__(self) -> httpx.Client:
        return self.client

    def __exit__(self, *exc: object) -> None:
        return None


class ImageBuilder:
    """Collects platform images and attestation manifests; :meth:`build` makes the index."""

    def __init__(self, name: str = "app", *, created: str = CREATED) -> None:
        self.name = name
        self.created = created
        self.platforms: list[PlatformEntry] = []
        self.attestations: list[AttestationEntry] = []

    def add_platform(
        self,
        platform: str = "linux/amd64",
        config: Mapping[str, Any] | None = None,
        *,
        media_type: str = OCI_MANIFEST,
        layer_content: bytes | None = None,
    ) -> PlatformEntry:
        """Add one platform image: config (``config`` keys override the defaults), one gzip layer.

        ``media_type`` DOCKER_MANIFEST gives a Docker v2 manifest with Docker config/layer types.
        The layer holds ``app/<name>.txt`` (default content: name and platform, so images differ).
        """
        docker = media_type == DOCKER_MANIFEST
        content = (
            layer_content if layer_content is not None else f"{self.name} {platform}\n".encode()
        )
        tar = _layer_tar(f"{self.name}.txt", content)
        layer = gzip.compress(tar, mtime=0)
        plat = parse_platform(platform)
        image_config: dict[str, Any] = {
            **plat,
            "config": {"Env": [DEFAULT_PATH_ENV], "WorkingDir": "/"},
            "created": self.created,
            "history": [
                {
                    "created": self.created,
                    "created_by": f"COPY {self.name}.txt /app/{self.name}.txt # buildkit",
                    "comment": "buildkit.dockerfile.v0",
                }
            ],
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]},
        }
        image_config.update(config or {})
        config_bytes = compact_bytes(image_config)
        manifest = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": descriptor(DOCKER_CONFIG if docker else OCI_CONFIG, config_bytes),
            "layers": [descriptor(DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP, layer)],
        }
        body = manifest_bytes(manifest)
        entry = PlatformEntry(
            platform=platform,
            manifest=body,
            media_type=media_type,
            blobs={
                sha256_digest(config_bytes): config_bytes,
                sha256_digest(layer): layer,
                sha256_digest(body): body,
            },
            config=image_config,
        )
        self.platforms.append(entry)
        return entry

    def attest(
        self,
        entry: PlatformEntry,
        statements: Sequence[Mapping[str, Any]],
        *,
        form: Literal["legacy", "oci-artifact"] = "legacy",
        predicate_type_annotations: Sequence[str | None] | None = None,
        reference_digest: str | None = None,
        reference_type: str | None = "attestation-manifest",
    ) -> AttestationEntry:
        """Add an attestation manifest for ``entry`` the way BuildKit writes it (formats.md §2).

        ``predicate_type_annotations``: per statement, the ``in-toto.io/predicate-type`` value
        (None: no annotation); default each statement's ``predicateType``.
        ``reference_digest``: the ``vnd.docker.reference.digest`` (default ``entry.digest``);
        ``reference_type`` None omits ``vnd.docker.reference.type``.
        """
        if predicate_type_annotations is None:
            predicate_type_annotations = [s.get("predicateType") for s in statements]
        if len(predicate_type_annotations) != len(statements):
            raise ValueError("one predicate-type annotation per statement")
        layers = [
            (compact_bytes(statement), IN_TOTO, predicate_type)
            for statement, predicate_type in zip(
                statements, predicate_type_annotations, strict=True
            )
        ]
        return self._attestation(
            entry,
            layers,
            statements,
            form=form,
            reference_digest=reference_digest,
            reference_type=reference_type,
        )

    def attest_envelopes(
        self,
        entry: PlatformEntry,
        envelopes: Sequence[Mapping[str, Any]],
        *,
        media_type: str = DSSE_ENVELOPE,
        form: Literal["legacy", "oci-artifact"] = "legacy",
        predicate_type_annotations: Sequence[str | None] | None = None,
        layer_annotations: Sequence[Mapping[str, str]] | None = None,
    ) -> AttestationEntry:
        """Like :meth:`attest`, with DSSE envelopes (see :func:`dsse_envelope`) as the layers,
        the way docker/attest and Docker Hardened Images store signed statements in the index.

        ``media_type``: :data:`DSSE_ENVELOPE` or e.g. ``application/vnd.in-toto.spdx+dsse``.
        ``predicate_type_annotations`` default to each payload's ``predicateType``;
        ``layer_annotations``: more annotations per layer (e.g. ``dev.sigstore.cosign/bundle``).
        """
        statements = [json.loads(base64.b64decode(e["payload"])) for e in envelopes]
        if predicate_type_annotations is None:
            predicate_type_annotations = [s.get("predicateType") for s in statements]
        if len(predicate_type_annotations) != len(envelopes):
            raise ValueError("one predicate-type annotation per envelope")
        layers = [
            (compact_bytes(envelope), media_type, predicate_type)
            for envelope, predicate_type in zip(envelopes, predicate_type_annotations, strict=True)
        ]
        return self._attestation(
            entry, layers, statements, form=form, layer_annotations=layer_annotations
        )

    def _attestation(
        self,
        entry: PlatformEntry,
        layer_data: Sequence[tuple[bytes, str, str | None]],
        statements: Sequence[Mapping[str, Any]],
        *,
        form: Literal["legacy", "oci-artifact"],
        reference_digest: str | None = None,
        reference_type: str | None = "attestation-manifest",
        layer_annotations: Sequence[Mapping[str, str]] | None = None,
    ) -> AttestationEntry:
        """An attestation manifest of ``(bytes, media type, predicate-type annotation)`` layers."""
        blobs: dict[str, bytes] = {}
        layers = []
        for i, (data, layer_type, predicate_type) in enumerate(layer_data):
            blobs[sha256_digest(data)] = data
            annotations = {PREDICATE_TYPE_ANNOTATION: predicate_type} if predicate_type else {}
            annotations.update(layer_annotations[i] if layer_annotations else {})
            extra = {"annotations": annotations} if annotations else {}
            layers.append(descriptor(layer_type, data, **extra))
        manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
        if form == "oci-artifact":
            empty = b"{}"
            blobs[EMPTY_DIGEST] = empty
            manifest["artifactType"] = ATTESTATION_ARTIFACT
            manifest["config"] = descriptor(OCI_EMPTY, empty, data="e30=")
        else:
            dummy = {
                "architecture": "unknown",
                "os": "unknown",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
            }
            config_bytes = compact_bytes(dummy)
            blobs[sha256_digest(config_bytes)] = config_bytes
            manifest["config"] = descriptor(OCI_CONFIG, config_bytes)
        manifest["layers"] = layers
        if form == "oci-artifact":
            subject = entry.descriptor
            del subject["platform"]
            manifest["subject"] = subject
        body = manifest_bytes(manifest)
        blobs[sha256_digest(body)] = body
        annotations = {REFERENCE_DIGEST: reference_digest or entry.digest}
        if reference_type is not None:
            annotations[REFERENCE_TYPE] = reference_type
        att = AttestationEntry(
            for_platform=entry,
            manifest=body,
            descriptor=descriptor(
                OCI_MANIFEST,
                body,
                annotations=annotations,
                platform={"architecture": "unknown", "os": "unknown"},
            ),
            blobs=blobs,
            statements=[dict(s) for s in statements],
        )
        self.attestations.append(att)
        return att

    def build(
        self,
        index_media_type: str = OCI_INDEX,
        *,
        annotations: Mapping[str, str] | None = None,
    ) -> BuiltImage:
        """An index (OCI, or a Docker manifest list) of all platforms, then all attestations."""
        if index_media_type not in (OCI_INDEX, DOCKER_LIST):
            raise ValueError(index_media_type)
        index: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": index_media_type,
            "manifests": [p.descriptor for p in self.platforms]
            + [a.descriptor for a in self.attestations],
        }
        if annotations:
            index["annotations"] = dict(annotations)
        body = manifest_bytes(index)
        blobs: dict[str, bytes] = {}
        for platform in self.platforms:
            blobs.update(platform.blobs)
        for attestation in self.attestations:
            blobs.update(attestation.blobs)
        blobs[sha256_digest(body)] = body
        return BuiltImage(
            root=descriptor(index_media_type, body),
            blobs=blobs,
            platforms=tuple(self.platforms),
            attestations=tuple(self.attestations),
        )

    def build_single(self, entry: PlatformEntry | None = None) -> BuiltImage:
        """A single manifest, no index (like ``h-no-attest``); default: the only platform."""
        if entry is None:
            if len(self.platforms) != 1:
                raise ValueError("build_single() needs an entry when there are several platforms")
            entry = self.platforms[0]
        return BuiltImage(
            root=descriptor(entry.media_type, entry.manifest),
            blobs=dict(entry.blobs),
            platforms=(entry,),
        )

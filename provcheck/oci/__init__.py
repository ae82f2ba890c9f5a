"""Pure OCI data: references, digests, media types, descriptors and manifests (no I/O)."""

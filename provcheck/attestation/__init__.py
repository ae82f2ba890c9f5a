"""in-toto statements (v0.1 and v1), their subjects, and binding them to image manifests."""

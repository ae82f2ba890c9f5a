"""Discovery: find the attestations of an image and bind each one to what it describes."""

"""Views of discovery results: buildx-compatible documents, provcheck's JSON, and text."""

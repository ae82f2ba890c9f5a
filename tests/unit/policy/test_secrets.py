"""looks_like_secret on the forms a red team found missing, and on look-alikes that are not."""

from __future__ import annotations

import pytest

from provcheck._internal.secrets import looks_like_secret

# Fake tokens in the real formats (prefix, alphabet, length); none is or was ever valid.
GITHUB_CLASSIC = "3f9a0c4b7d2e8f1a6b5c9d0e4f7a2b8c1d6e3f90"
HF = "hf_FAKEabcdefghijklmnopqrstuvwxyzAB"
DIGITALOCEAN = "dop_v1_" + "0123456789abcdef" * 4
SONARQUBE = "squ_" + "0123456789abcdef0123456789abcdef01234567"
SHOPIFY = "shpat_" + "0123456789abcdef" * 2

GAPS = [
    ("REPO", f"https://{GITHUB_CLASSIC}@github.com/acme/app.git"),
    ("REPO", f"https://:{GITHUB_CLASSIC}@github.com/acme/app.git"),
    ("MIRROR", "https://:s3cr3t@registry.example.com/"),
    ("MODEL", f"https://{HF}@huggingface.co/acme/model"),
    ("HUB", HF),
    ("DO", DIGITALOCEAN),
    ("SONAR", SONARQUBE),
    ("SHOP", SHOPIFY),
    (
        "SOURCES",
        "https://xxxxx:xxxxx@github.com/o/a.git https://bot:hunter2@github.com/o/b.git",
    ),
    ("SOURCES", f"https://xxxxx@github.com/o/a.git https://{GITHUB_CLASSIC}@github.com/o/b"),
]


"""Each of these was missed before (issue 14.8)."""
KEPT = [
    ("MODEL", f"https://user:{HF}@huggingface.co/acme/model"),
    ("REPO", "https://ghp_FAKE0123456789abcdefghijklmnopqrstuv@github.com/o/r"),
    ("REPO", "https://q8Zr4LmN2vXp7TsK9wYb3HcJ6dFg1@git.example.com/o/r"),
    ("REGISTRY", "https://user:pw@registry.example.com"),
    ("REGISTRY", "https://user:p#ss?word@registry.example.com"),
]
"""Each of these was found before and still is."""


@pytest.mark.parametrize(("name", "value"), GAPS + KEPT)
def test_secret(name: str, value: str) -> None:
    assert looks_like_secret(name, value) is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REPO", "https://git@github.com/acme/app.git"),
        ("REPO", "ssh://git@github.com/acme/app.git"),
        ("REPO", "https://jane.doe@git.example.com/acme/app.git"),
        ("REPO", "https://jane.doe%40example.com@git.example.com/acme/app.git"),
        ("REPO", "https://oauth2@gitlab.example.com/acme/app.git"),
        ("REPO", "https://gitlab-ci-token@gitlab.example.com/acme/app.git"),
        ("REPO", "https://x-access-token@github.com/acme/app.git"),
        ("REPO", "https://anonymous:@ftp.example.com/pub"),
        # BuildKit's masks: user and password, user only, password only
        ("CTX", "https://xxxxx:xxxxx@github.com/o/r.git https://xxxxx@github.com/o/s.git"),
        ("CTX", "https://:xxxxx@github.com/o/r.git"),
        ("GIT_SHA", GITHUB_CLASSIC),
        ("URL", f"https://github.com/acme/app/commit/{GITHUB_CLASSIC}"),
        ("URL", "https://example.com/a@b"),
        ("CHANNEL", "hf_hub"),
        ("AUTHOR", "Jane Doe"),
    ],
)
def test_look_alike_is_not_a_secret(name: str, value: str) -> None:
    assert looks_like_secret(name, value) is None

"""The public API is deliberate: everything in __all__ exists, is documented, and is cheap."""

from __future__ import annotations

import subprocess
import sys

import provcheck


def test_all_is_sorted_and_resolves() -> None:
    assert provcheck.__all__ == sorted(provcheck.__all__)
    for name in provcheck.__all__:
        value = getattr(provcheck, name)
        assert value is not None
        if name != "__version__":
            assert (value.__doc__ or "").strip(), name


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        provcheck.nothing_here  # noqa: B018
    except AttributeError as exc:
        assert "nothing_here" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_import_does_not_load_the_http_or_crypto_stack() -> None:
    code = (
        "import sys, provcheck, provcheck.cli; "
        "print(sorted(m for m in ('httpx', 'cryptography', 'jsonschema', 'yaml') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

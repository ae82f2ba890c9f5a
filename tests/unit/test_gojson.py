"""Go's json.MarshalIndent, as buildx prints it: checked value by value."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provcheck._internal.gojson import GoStruct, go_json_indent


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (3, "3"),
        (-0.5, "-0.5"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1.5e-5, "0.000015"),
        (1e-7, "1e-07"),
        (2**53 + 1, "9007199254740992"),
        ("a<b>&c", '"a\\u003cb\\u003e\\u0026c"'),
        ("caf\u00e9 \u2028\u2029", '"caf\u00e9 \\u2028\\u2029"'),
        ("tab\t\x01", '"tab\\t\\u0001"'),
        ({}, "{}"),
        ([], "[]"),
        (None, "null"),
        (True, "true"),
    ],
)
def test_scalars_and_empties(value: object, expected: str) -> None:
    assert go_json_indent(value) == expected


def test_maps_are_sorted_structs_keep_their_order() -> None:
    value = GoStruct(SPDX={"b": 1, "a": [1, {"d": 2, "c": 3}]}, AdditionalSPDXs=[])
    assert go_json_indent(value) == (
        '{\n  "SPDX": {\n    "a": [\n      1,\n      {\n        "c": 3,\n        "d": 2\n'
        '      }\n    ],\n    "b": 1\n  },\n  "AdditionalSPDXs": []\n}'
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(json_values)
def test_output_is_json_with_the_same_value(value: object) -> None:
    assert json.loads(go_json_indent(value)) == value

"""What ``--attestations-repo`` adds to the found attestations survives
``provcheck.attestations/v1`` both ways, and shows in ``provcheck.inspect/v1`` and the text view."""

from __future__ import annotations

import dataclasses

from provcheck.api import inspect_image
from provcheck.discovery.model import ImageAttestations, StoreRepository
from provcheck.discovery.serialize import attestations_to_dict, dump_attestations, load_attestations
from provcheck.views.document import inspect_document
from provcheck.views.text import render_inspect_text
from tests.paths import real_case

STORE = "registry.example.com/signatures/app"


def _elsewhere() -> ImageAttestations:
    found = inspect_image(f"oci-layout://{real_case('b-multi-max') / 'oci-layout'}:1")
    image = found.images[0]
    moved = dataclasses.replace(image.attestations[0], repository=StoreRepository.ATTESTATIONS_REPO)
    images = (dataclasses.replace(image, attestations=(moved,)), *found.images[1:])
    return dataclasses.replace(found, images=images, attestations_repository=STORE)


def test_round_trip() -> None:
    found = _elsewhere()
    assert load_attestations(dump_attestations(found)) == found
    assert attestations_to_dict(found)["attestationsRepository"] == STORE
    plain = dataclasses.replace(found, attestations_repository=None)
    assert "attestationsRepository" not in attestations_to_dict(plain)
    assert load_attestations(dump_attestations(plain)) == plain


def test_inspect_views_name_the_repository() -> None:
    found = _elsewhere()
    doc = inspect_document(found)
    assert doc["attestationsRepository"] == STORE
    repositories = [m["repository"] for i in doc["images"] for m in i["attestationManifests"]]
    assert repositories[0] == "attestations-repo"
    assert set(repositories[1:]) == {"image"}
    text = render_inspect_text(found)
    assert f"Also read:  {STORE}" in text
    assert f"from index in {STORE})" in text

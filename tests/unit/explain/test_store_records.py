"""What discovery records for explain (how referrers were listed, which repository a store
manifest came from), kept through ``provcheck.attestations/v1``; and the repository named in
explain's evidence (the attestations repository is filled in by ``--attestations-repo``)."""

from __future__ import annotations

import dataclasses

from provcheck.discovery.model import (
    AttestationOrigin,
    ReferrersAnswer,
    StoreLookup,
    StoreRepository,
)
from provcheck.discovery.serialize import attestations_from_dict, attestations_to_dict
from provcheck.explain import explain_image
from provcheck.explain.render import explanation_to_dict, render_explanation
from provcheck.report.causes import Cause
from tests.unit.policy.realdata import load_case_with_stores


def test_lookups_record_the_fallback_tag_and_round_trip() -> None:
    found = load_case_with_stores("i-cosign")
    # an OCI layout has no referrers API: the index, both platforms and (a key is trusted)
    # both in-index attestation manifests had their fallback tag read; none exists
    assert {(x.referrers, x.listed) for x in found.lookups} == {
        (ReferrersAnswer.FALLBACK_TAG, None)
    }
    assert {x.digest for x in found.lookups} == {
        found.digest,
        *(i.descriptor.digest for i in found.images),
        *(
            m.descriptor.digest
            for i in found.images
            for m in i.attestations
            if m.origin is AttestationOrigin.INDEX
        ),
    }
    assert attestations_from_dict(attestations_to_dict(found)) == found
    # documents written before these fields read as "none" and "the image's repository"
    doc = attestations_to_dict(found)
    del doc["lookups"]
    for image in doc["images"]:
        for manifest in image["attestations"]:
            del manifest["repository"]
    assert attestations_from_dict(doc) == dataclasses.replace(found, lookups=())


def test_attestations_repository_is_named_and_stored_elsewhere() -> None:
    found = load_case_with_stores("i-cosign")
    amd64 = found.images[0]
    # only the cosign attestation, found in the attestations repository: not in the index
    moved = tuple(
        dataclasses.replace(m, repository=StoreRepository.ATTESTATIONS_REPO)
        for m in amd64.attestations
        if m.origin is AttestationOrigin.COSIGN_TAG
    )
    image = dataclasses.replace(
        found,
        images=(dataclasses.replace(amd64, attestations=moved), *found.images[1:]),
        lookups=(
            StoreLookup(
                amd64.descriptor.digest, ReferrersAnswer.API, 0, StoreRepository.ATTESTATIONS_REPO
            ),
        ),
    )
    assert attestations_from_dict(attestations_to_dict(image)) == image
    explanation = explain_image(image, platforms=frozenset({"linux/amd64"}))
    [platform] = explanation.platforms
    codes = {f.code for f in platform.causes}
    assert Cause.STORED_ELSEWHERE in codes
    [elsewhere] = [f for f in platform.causes if f.code is Cause.STORED_ELSEWHERE]
    assert elsewhere.message == (
        "provenance for linux/amd64 is not in the index, but in a cosign tag of the "
        "attestations repository (1 statement(s))"
    )
    document = explanation_to_dict(explanation)
    assert document["platforms"][0]["evidence"][0]["repository"] == "attestations-repo"
    assert document["lookups"] == [
        {
            "digest": str(amd64.descriptor.digest),
            "referrers": "api",
            "listed": 0,
            "repository": "attestations-repo",
        }
    ]
    text = render_explanation(explanation)
    assert "in a cosign tag of the attestations repository, covers every platform" in text
    # the API answered: no registry-no-referrers
    assert Cause.REGISTRY_NO_REFERRERS not in {f.code for f in explanation.causes}

"""Variants of the real cases: the same discovery values with a predicate or config changed."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from provcheck.discovery.model import ImageAttestations, PlatformImage

Mutator = Callable[[dict[str, Any]], dict[str, Any] | None]


def with_predicates(image: ImageAttestations, mutate: Mutator) -> ImageAttestations:
    """Apply ``mutate`` to a deep copy of every statement predicate (may return a new one)."""
    images = []
    for pi in image.images:
        manifests = []
        for m in pi.attestations:
            layers = []
            for layer in m.layers:
                if layer.statement is not None:
                    pred = copy.deepcopy(dict(layer.statement.predicate))
                    new = mutate(pred)
                    statement = dataclasses.replace(
                        layer.statement, predicate=pred if new is None else new
                    )
                    layer = dataclasses.replace(layer, statement=statement)
                layers.append(layer)
            manifests.append(dataclasses.replace(m, layers=tuple(layers)))
        images.append(dataclasses.replace(pi, attestations=tuple(manifests)))
    return dataclasses.replace(image, images=tuple(images))


def with_configs(image: ImageAttestations, mutate: Mutator | None) -> ImageAttestations:
    """Apply ``mutate`` to a deep copy of every image config; ``None`` drops the configs."""
    images: list[PlatformImage] = []
    for pi in image.images:
        if mutate is None or pi.config is None:
            images.append(dataclasses.replace(pi, config=None))
            continue
        cfg = copy.deepcopy(dict(pi.config))
        new = mutate(cfg)
        images.append(dataclasses.replace(pi, config=cfg if new is None else new))
    return dataclasses.replace(image, images=tuple(images))

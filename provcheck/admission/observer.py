"""Hooks a server's metrics are fed from: :class:`GateObserver` and its no-op base."""

from __future__ import annotations

from typing import Protocol


class GateObserver(Protocol):
    """What a :class:`~provcheck.admission.Gate` reports as it works. Hooks are called on the
    event loop and must neither block nor raise."""

    def registry_request(self, host: str, failed: bool) -> None:
        """One try of a registry request to ``host`` (``host:port``) ended; ``failed``: not a
        200 (an HTTP error or a connection failure)."""

    def cache_lookup(self, hit: bool) -> None:
        """A verdict was looked up in the cache."""

    def budget_exceeded(self) -> None:
        """A review ran out of its budget (an image was denied "not verified in time")."""

    def exemption_used(self, exemption: str) -> None:
        """An exemption (its :attr:`~provcheck.policy.exemptions.Exemption.label`) allowed an
        image."""


class NullObserver:
    """A :class:`GateObserver` that does nothing (subclass it to implement only some hooks)."""

    def registry_request(self, host: str, failed: bool) -> None:
        """Nothing."""

    def cache_lookup(self, hit: bool) -> None:
        """Nothing."""

    def budget_exceeded(self) -> None:
        """Nothing."""

    def exemption_used(self, exemption: str) -> None:
        """Nothing."""

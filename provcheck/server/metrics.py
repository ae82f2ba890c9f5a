"""The server's Prometheus metrics, in a registry of its own (no global default registry).

:class:`ServerMetrics` is the gate's :class:`~provcheck.admission.GateObserver` (cache lookups,
registry requests, budget overruns, exemptions) and counts the reviews the server answers.
Label values are bounded: paths are the two review endpoints, decisions a closed vocabulary,
hosts the registries the policy's images name, exemptions the policy's entries.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
"""The media type of :meth:`ServerMetrics.exposition` (the Prometheus text format)."""

LATENCY_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 8.0, 10.0, 30.0,
)  # fmt: skip
"""Seconds: fine below 50 ms (a warm review), then up to the webhook timeouts."""


class ServerMetrics:
    """Counters and the latency histogram of one server, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._reviews = Counter(
            "provcheck_admission_reviews",
            "AdmissionReviews answered, by endpoint and decision",
            ["path", "decision"],
            registry=self.registry,
        )
        self._rejected = Counter(
            "provcheck_admission_rejected_requests",
            "Requests to a review endpoint answered with an HTTP error (not an AdmissionReview, "
            "too large, wrong media type), by endpoint and status",
            ["path", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "provcheck_admission_review_duration_seconds",
            "Time from the request to the AdmissionReview answer, by endpoint",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._cache = Counter(
            "provcheck_cache_lookups",
            "Verdict cache lookups, by result (hit or miss)",
            ["result"],
            registry=self.registry,
        )
        self._requests = Counter(
            "provcheck_registry_requests",
            "Requests made to registries, by registry host",
            ["host"],
            registry=self.registry,
        )
        self._errors = Counter(
            "provcheck_registry_errors",
            "Registry requests that failed (connection, timeout, HTTP error), by host",
            ["host"],
            registry=self.registry,
        )
        self._overruns = Counter(
            "provcheck_budget_overruns",
            "Reviews whose verification did not finish within --budget (denied)",
            registry=self.registry,
        )
        self._exemptions = Counter(
            "provcheck_exemptions_used",
            "Policy exemptions applied, by exemption",
            ["exemption"],
            registry=self.registry,
        )
        # labels() costs a lock and a dict lookup: the children of the closed vocabularies
        # are looked up once (per review, it was a tenth of a warm review's CPU)
        self._hit, self._miss = self._cache.labels("hit"), self._cache.labels("miss")
        self._answered: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def review(self, path: str, decision: str, seconds: float) -> None:
        """One AdmissionReview answered on ``path`` with ``decision`` after ``seconds``."""
        children = self._answered.get((path, decision))
        if children is None:  # bounded: two paths, three decisions
            children = self._reviews.labels(path, decision), self._latency.labels(path)
            self._answered[(path, decision)] = children
        children[0].inc()
        children[1].observe(seconds)

    def rejected(self, path: str, status: int) -> None:
        """One request to ``path`` answered with the HTTP error ``status``."""
        self._rejected.labels(path, str(status)).inc()

    # GateObserver
    def registry_request(self, host: str, failed: bool) -> None:
        """One request to the registry ``host``; ``failed`` when it did not succeed."""
        self._requests.labels(host).inc()
        if failed:
            self._errors.labels(host).inc()

    def cache_lookup(self, hit: bool) -> None:
        """One verdict cache lookup."""
        (self._hit if hit else self._miss).inc()

    def budget_exceeded(self) -> None:
        """One review ran out of its budget."""
        self._overruns.inc()

    def exemption_used(self, exemption: str) -> None:
        """One exemption of the policy applied."""
        self._exemptions.labels(exemption).inc()

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)

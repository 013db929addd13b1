"""Prometheus metrics of the controller, in a registry of its own.

What an operator alerts on:

``reaper_seconds_since_last_notification``
    Silence on the bus is itself a signal: Keystone stopped publishing, the
    listener lost its queue, or a broker policy changed. In a cloud where
    users and projects come and go daily, alert when it exceeds what the
    cloud's usual churn allows, e.g.::

        - alert: ReaperHearsNothing
          expr: reaper_seconds_since_last_notification > 6 * 3600
          for: 15m

``reaper_tombstones{state="partial"|"held"}``, ``reaper_queue_lag_seconds``
    Cleanups that keep failing, wait for an operator, or wait too long.

``reaper_kept_for_live_use{resource_type}``, ``reaper_tombstones{state="waiting"}``
    Resources of deleted owners kept because a project that still exists uses
    them (its server's port on the network, its rule naming the group), over
    every waiting tombstone. The sweep reaps them once unused; ``reaper
    tombstone show`` says who uses each, ``reaper release`` hands one over.
    A count that only grows is a cloud where sharing outlives its owners.

``reaper_keystone_failures_total{reason}``
    reaper could not use Keystone: its credentials cannot make a connection
    (``config``), Keystone is ``unreachable``, or refuses them
    (``unauthorized``, ``forbidden``). Tombstones wait meanwhile and
    ``/healthz`` says why; alert on any increase that lasts.

``reaper_notifications_total{event_type,outcome}``, ``reaper_steps_total{action,outcome}``
    What arrived and what reaper did with it. Outcomes ``rejected_<code>``
    count messages reaper refused (each audited); ``rejected_undecodable``
    rising is someone writing garbage to the bus.

``reaper_sweeps_held_total``
    A sweep found more orphaned owners than ``[sweep] max_orphans`` or
    ``max_orphan_fraction`` allow and opened nothing: a Keystone answering
    404 for everything (a wrong endpoint, an old backup) looks like this.
    Alert on any increase; ``reaper sweep`` lists them, ``reaper sweep
    --open --approve`` opens them after review.

``reaper_reclaimed_total{resource}``
    What cleanups gave back, as the services account for it: Placement's
    ``placement.VCPU``, ``placement.MEMORY_MB``, ``placement.DISK_GB`` and the
    quota usages (``block_storage.gigabytes``, ``network.floatingip``...),
    summed over every project reaper cleaned up (``reaper/reclaim.py``).

``reaper_listener_dead_letter``
    0 when the pool queue predates dead-lettering: run ``reaper queue declare``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from reaper.credentials import Reason
from reaper.model import BUDGET_SPENT, Outcome, OutcomeStatus, Resource, Step, TombstoneState


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.started = time.time()
        self._last_notification: float | None = None
        self._lock = threading.Lock()
        self.notifications = Counter(
            "reaper_notifications",
            "Identity notifications received, by event type and what became of them.",
            ["event_type", "outcome"],
            registry=self.registry,
        )
        self.transitions = Counter(
            "reaper_tombstone_transitions",
            "Tombstone state changes, by the state entered.",
            ["state"],
            registry=self.registry,
        )
        self.steps = Counter(
            "reaper_steps",
            "Plan steps finished, by action and outcome.",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.steps_blocked = Counter(
            "reaper_steps_blocked",
            "Steps blocked because conflicts (409, a volume in use) spent their retry "
            "budget; their tombstone is held for a person.",
            ["action", "resource_type"],
            registry=self.registry,
        )
        self.step_seconds = Histogram(
            "reaper_step_duration_seconds",
            "Time from a step's start to its final outcome.",
            ["action"],
            registry=self.registry,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
        )
        self.keystone_failures = Counter(
            "reaper_keystone_failures",
            "Times reaper could not use Keystone, by reason: config (the credentials cannot "
            "make a connection), unreachable, unauthorized (401), forbidden (403).",
            ["reason"],
            registry=self.registry,
        )
        self.sweeps_held = Counter(
            "reaper_sweeps_held",
            "Sweeps that found more orphaned owners than [sweep] allows and opened nothing.",
            registry=self.registry,
        )
        self.reclaimed_total = Counter(
            "reaper_reclaimed",
            "Usage given back by cleanups (before minus after), by service.resource.",
            ["resource"],
            registry=self.registry,
        )
        self.barbican_listener = Gauge(
            "reaper_barbican_keystone_listener",
            "1 for what the controller found at start about Barbican's keystone listener "
            "(which deletes a deleted project's secrets; reaper cannot list them): "
            "running, absent, unknown or no_barbican.",
            ["state"],
            registry=self.registry,
        )
        for reason in Reason:  # served as 0 from the start, so rates and alerts see them
            self.keystone_failures.labels(reason=reason.value)
        self._state_counts: Callable[[], Mapping[str, int]] = dict
        self._queue_lag: Callable[[], float] = lambda: 0.0
        self._listener_up: Callable[[], bool] = lambda: False
        self._dead_letter: Callable[[], bool] = lambda: False
        self._kept: Callable[[], Mapping[str, int]] = dict
        self.registry.register(_Dynamic(self))

    # -- wiring --------------------------------------------------------------------

    def observe_store(
        self, state_counts: Callable[[], Mapping[str, int]], queue_lag: Callable[[], float]
    ) -> None:
        self._state_counts, self._queue_lag = state_counts, queue_lag

    def observe_kept(self, kept: Callable[[], Mapping[str, int]]) -> None:
        """What waiting tombstones keep for live use, by resource type (read at scrape)."""
        self._kept = kept

    def observe_listener(
        self, up: Callable[[], bool], dead_letter: Callable[[], bool] = lambda: False
    ) -> None:
        self._listener_up, self._dead_letter = up, dead_letter

    # -- events ----------------------------------------------------------------------

    def notification(self, event_type: str, outcome: str, count: int = 1) -> None:
        self.notifications.labels(event_type=event_type, outcome=outcome).inc(count)
        if event_type.startswith("identity."):
            with self._lock:
                self._last_notification = time.time()

    def sweep_held(self) -> None:
        self.sweeps_held.inc()

    def barbican_listener_state(self, state: str) -> None:
        """The start-up check's finding: ``state`` 1, every other state 0."""
        for known in ("running", "absent", "unknown", "no_barbican"):
            self.barbican_listener.labels(state=known).set(1 if known == state else 0)

    def keystone_failure(self, reason: str) -> None:
        self.keystone_failures.labels(reason=str(getattr(reason, "value", reason))).inc()

    def reclaimed(self, amounts: Mapping[str, float]) -> None:
        """Add what a run gave back (only what grew: a counter never goes down)."""
        for resource, amount in amounts.items():
            if amount > 0:
                self.reclaimed_total.labels(resource=resource).inc(amount)

    def tombstone_moved(self, state: TombstoneState) -> None:
        self.transitions.labels(state=state.value).inc()

    @property
    def seconds_since_last_notification(self) -> float:
        with self._lock:
            last = self._last_notification or self.started
        return max(0.0, time.time() - last)


class StepMetrics:
    """An executor observer that counts steps."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def step_started(self, step: Step, resource: Resource | None) -> None:
        pass

    def step_retrying(self, step: Step, attempt: int, error: str, delay: float) -> None:
        pass

    def step_finished(self, step: Step, outcome: Outcome, resource: Resource | None) -> None:
        self.metrics.steps.labels(action=step.action, outcome=outcome.status.value).inc()
        if outcome.status is OutcomeStatus.BLOCKED and outcome.reason.startswith(BUDGET_SPENT):
            self.metrics.steps_blocked.labels(
                action=step.action, resource_type=step.resource.type
            ).inc()
        if outcome.started_at and outcome.finished_at:
            seconds = (outcome.finished_at - outcome.started_at).total_seconds()
            self.metrics.step_seconds.labels(action=step.action).observe(max(0.0, seconds))


class _Dynamic:
    """Values read at scrape time: they come from the store and the listener."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Any]:
        silence = GaugeMetricFamily(
            "reaper_seconds_since_last_notification",
            "Seconds since the last identity notification (since start if none yet).",
        )
        silence.add_metric([], self.m.seconds_since_last_notification)
        yield silence
        listener = GaugeMetricFamily(
            "reaper_listener_up", "1 when the notification listener is running."
        )
        listener.add_metric([], 1.0 if self.m._listener_up() else 0.0)
        yield listener
        dead_letter = GaugeMetricFamily(
            "reaper_listener_dead_letter",
            "1 when the pool queue dead-letters what the message driver cannot decode, so "
            "reaper audits each such message; 0 for a queue an older reaper declared.",
        )
        dead_letter.add_metric([], 1.0 if self.m._dead_letter() else 0.0)
        yield dead_letter
        states = GaugeMetricFamily("reaper_tombstones", "Tombstones by state.", labels=["state"])
        try:
            counts = self.m._state_counts()
        except Exception:
            counts = {}
        for state in TombstoneState:
            states.add_metric([state.value], float(counts.get(state.value, 0)))
        yield states
        kept = GaugeMetricFamily(
            "reaper_kept_for_live_use",
            "Resources of deleted owners kept because a live project uses them, over every "
            "waiting tombstone, by resource type.",
            labels=["resource_type"],
        )
        try:
            by_type = self.m._kept()
        except Exception:
            by_type = {}
        for rtype, n in sorted(by_type.items()):
            kept.add_metric([rtype], float(n))
        yield kept
        lag = GaugeMetricFamily(
            "reaper_queue_lag_seconds",
            "Age of the oldest tombstone that is due and not yet worked on.",
        )
        try:
            lag.add_metric([], self.m._queue_lag())
        except Exception:
            lag.add_metric([], float("nan"))
        yield lag

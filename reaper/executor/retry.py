"""One step's attempts: tenacity's backoff, ``Retry-After``, and the service's slot.

A step holds its service's semaphore only while a request is in flight, not
while it sleeps between retries. These semaphores bound one plan's share
of a service; the cap of the whole process (every plan, discovery and
confirmation together) is the session's :class:`~reaper.budget.Budget`,
which every request passes. Transient failures are retried with
exponential backoff and jitter, bounded in attempts and wait; a
``Retry-After`` hint is honoured up to the larger of itself and the maximum
wait. What happened is kept per step (attempts, one line per retry) for its
outcome.
"""

from __future__ import annotations

import collections
import threading

import tenacity

from reaper.executor.clock import Clock
from reaper.executor.contract import Attempt, Limits, Observer, Runner, Transient
from reaper.model import Resource, Step


def describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


class Attempts:
    """Runs steps with retries and remembers, per step, how it went."""

    def __init__(self, runner: Runner, limits: Limits, observer: Observer, clock: Clock) -> None:
        self.runner = runner
        self.limits = limits
        self.observer = observer
        self.clock = clock
        self.semaphores: dict[str, threading.BoundedSemaphore] = collections.defaultdict(
            lambda: threading.BoundedSemaphore(limits.default_concurrency)
        )
        for service, n in limits.concurrency.items():
            self.semaphores[service] = threading.BoundedSemaphore(n)
        self.count: dict[str, int] = collections.defaultdict(int)
        self.retries: dict[str, list[str]] = collections.defaultdict(list)

    def run(self, step: Step, resource: Resource | None) -> Attempt:
        """Attempt ``step`` until it settles; raises what the last attempt raised."""
        limits = self.limits
        semaphore = self.semaphores[step.service]

        def once() -> Attempt:
            self.count[step.id] += 1
            with semaphore:
                return self.runner.run(step, resource)

        backoff_of = tenacity.wait_exponential_jitter(
            multiplier=limits.retry_initial_wait, max=limits.retry_max_wait
        )

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            backoff = backoff_of(state)
            hinted = getattr(exc, "retry_after", None)
            if hinted is not None:  # honoured in full, up to the operator's bound
                hinted = min(hinted, limits.retry_after_max)
            return min(max(backoff, hinted or 0.0), max(limits.retry_max_wait, hinted or 0.0))

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            line = f"attempt {state.attempt_number}: {describe(exc)}; retry in {delay:.1f}s"
            self.retries[step.id].append(line)
            self.observer.step_retrying(step, state.attempt_number, describe(exc), delay)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(limits.retry_attempts),
            wait=wait,
            retry=tenacity.retry_if_exception_type(Transient),
            before_sleep=before_sleep,
            sleep=self.clock.sleep,
            reraise=True,
        )
        return retrying(once)

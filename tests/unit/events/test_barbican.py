"""The controller's start-up check of Barbican's keystone listener: what each finding says."""

from __future__ import annotations

import pytest

from reaper.events.barbican import ListenerState, check, judge
from reaper.metrics import Metrics


def no_broker(queue: str) -> int | None:
    raise AssertionError("the broker must not be asked")


def test_no_key_manager_in_the_catalog_means_nothing_is_left_there() -> None:
    assert judge(lambda: False, no_broker, "barbican")[0] is ListenerState.NO_BARBICAN


def test_barbican_without_a_configured_queue_is_unknown_and_says_what_to_set() -> None:
    state, why = judge(lambda: True, no_broker, "")

    assert state is ListenerState.UNKNOWN
    assert "barbican_listener_queue" in why


@pytest.mark.parametrize(
    ("consumers", "state"),
    [(None, ListenerState.ABSENT), (0, ListenerState.ABSENT), (2, ListenerState.RUNNING)],
)
def test_the_queue_and_its_consumers_decide(consumers: int | None, state: ListenerState) -> None:
    assert judge(lambda: True, lambda q: consumers, "barbican")[0] is state


def test_a_catalog_or_broker_that_cannot_answer_is_unknown_not_absent() -> None:
    def fails(*args: object) -> int:
        raise ConnectionError("down")

    assert judge(fails, no_broker, "q")[0] is ListenerState.UNKNOWN
    assert judge(lambda: True, fails, "q")[0] is ListenerState.UNKNOWN


def test_the_finding_is_the_one_state_the_gauge_shows() -> None:
    metrics = Metrics()

    class Conn:
        @staticmethod
        def has_service(kind: str) -> bool:
            return kind == "key-manager"

    state = check(lambda: Conn(), None, "", lambda s: metrics.barbican_listener_state(s.value))

    assert state is ListenerState.UNKNOWN
    values = {
        s: metrics.registry.get_sample_value("reaper_barbican_keystone_listener", {"state": s})
        for s in ("running", "absent", "unknown", "no_barbican")
    }
    assert values == {"running": 0, "absent": 0, "unknown": 1, "no_barbican": 0}

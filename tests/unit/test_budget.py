"""The process's request budget: one cap per service for every plan, slowed by 429/503.

The pace (AIMD and pauses) is pure and driven by a fake monotonic clock.
The cap across plans is checked through the real guarded session with
keystoneauth's network call replaced: several executors run plans at once,
as the controller's workers do, and the requests in flight to the service
never exceed its cap in total.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
from typing import Any

import pytest
import structlog
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session

from reaper import cloud
from reaper.budget import Budget, PaceRules, retry_after
from reaper.budget.pace import Pace
from reaper.executor import Attempt, Executor, Limits, Result

from .test_executor import plan_of, step

NOW = dt.datetime(2026, 12, 6, 5, 0, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# -- Retry-After ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Sun, 06 Dec 2026 05:01:30 GMT", 90.0),
        ("Sun, 06 Dec 2026 04:00:00 GMT", 0.0),  # a date in the past: now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_in_seconds_or_as_an_http_date(
    value: str | None, expected: float | None
) -> None:
    assert retry_after.seconds(value, NOW) == expected


def test_retry_after_is_found_whatever_the_case_of_the_header() -> None:
    assert retry_after.of_headers({"retry-after": "7"}, NOW) == 7.0
    assert retry_after.of_headers({}, NOW) is None


# -- the pace of one service ------------------------------------------------------


def test_a_429_halves_the_limit_down_to_one_and_successes_raise_it_back_to_the_cap() -> None:
    pace = Pace(8, PaceRules(recover_after=3))
    limits = []
    for n in range(4):
        limits.append(pace.throttled(now=float(n), retry_after=None, sent_at=float(n)).limit)
    assert limits == [4, 2, 1, 1]
    for _ in range(3 * 7):
        pace.succeeded()
    assert pace.limit == 8
    for _ in range(10):
        pace.succeeded()
    assert pace.limit == 8  # never above the cap


def test_answers_to_requests_sent_before_the_halving_do_not_halve_again() -> None:
    pace = Pace(8, PaceRules())
    first = pace.throttled(now=10.0, retry_after=1.0, sent_at=9.5)
    second = pace.throttled(now=10.1, retry_after=1.0, sent_at=9.6)
    third = pace.throttled(now=12.0, retry_after=1.0, sent_at=11.0)
    assert (first.lowered, second.lowered, third.lowered) == (True, False, True)
    assert pace.limit == 2


def test_retry_after_pauses_for_all_it_asks_up_to_the_bound_and_says_when_cut() -> None:
    pace = Pace(4, PaceRules(retry_after_max=60.0, default_pause=2.0))
    whole = pace.throttled(now=100.0, retry_after=45.0, sent_at=99.0)
    assert whole.pause == 45.0 and whole.capped_from is None
    assert pace.wait(100.0) == 45.0 and pace.wait(144.9) == pytest.approx(0.1)
    assert pace.wait(145.0) == 0.0
    cut = pace.throttled(now=200.0, retry_after=3600.0, sent_at=199.0)
    assert cut.pause == 60.0 and cut.capped_from == 3600.0
    silent = pace.throttled(now=300.0, retry_after=None, sent_at=299.0)
    assert silent.pause == 2.0


def test_a_shorter_retry_after_never_shortens_a_pause_already_running() -> None:
    pace = Pace(4, PaceRules())
    pace.throttled(now=0.0, retry_after=30.0, sent_at=0.0)
    pace.throttled(now=1.0, retry_after=1.0, sent_at=0.5)
    assert pace.wait(2.0) == 28.0


# -- the budget ---------------------------------------------------------------------


def test_a_throttled_answer_pauses_every_new_request_to_its_service_only() -> None:
    clock = Clock()
    shared = Budget({"compute": 4}, monotonic=clock, now=lambda: NOW)
    with shared.slot("compute") as sent_at:
        shared.answered("compute", 429, {"Retry-After": "Sun, 06 Dec 2026 05:00:30 GMT"}, sent_at)
    assert shared.paused_for("compute") == 30.0
    assert shared.paused_for("network") == 0.0
    assert shared.limit_of("compute") == 2
    clock.t += 30.0
    assert shared.paused_for("compute") == 0.0
    with shared.slot("compute"):  # sent at once: the pause is over
        pass


def test_a_retry_after_cut_to_the_bound_is_logged() -> None:
    clock = Clock()
    shared = Budget(
        {"image": 2}, rules=PaceRules(retry_after_max=10.0), monotonic=clock, now=lambda: NOW
    )
    with structlog.testing.capture_logs() as logs:
        shared.answered("image", 503, {"Retry-After": "900"}, clock())
    cut = [e for e in logs if "retry_after_max" in e["event"]]
    assert cut and cut[0]["retry_after"] == 900.0 and cut[0]["retry_after_max"] == 10.0
    assert shared.paused_for("image") == 10.0


def test_other_answers_count_as_successes_and_404s_too() -> None:
    clock = Clock()
    shared = Budget({"network": 4}, rules=PaceRules(recover_after=2), monotonic=clock)
    shared.answered("network", 429, None, clock())
    assert shared.limit_of("network") == 2
    for status in (200, 404, 409, 204):
        shared.answered("network", status, None, clock())
    assert shared.limit_of("network") == 4


def test_a_thread_already_holding_a_slot_takes_no_second_one() -> None:
    shared = Budget({"identity": 1})
    with shared.slot("identity"), shared.slot("identity"):
        assert shared.peaks() == {"identity": 1}


# -- N plans at once through the session ----------------------------------------------


class Service:
    """keystoneauth's network call: counts requests in flight and holds each a moment."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: collections.Counter[str] = collections.Counter()
        self.peak: collections.Counter[str] = collections.Counter()
        self.answers: list[Any] = []

    def request(self, url: str, method: str, **kwargs: Any) -> Any:
        kind = kwargs["endpoint_filter"]["service_type"]
        with self.lock:
            self.active[kind] += 1
            self.peak[kind] = max(self.peak[kind], self.active[kind])
            answer = self.answers.pop(0) if self.answers else None
        threading.Event().wait(0.002)  # let the others pile in
        with self.lock:
            self.active[kind] -= 1
        if isinstance(answer, BaseException):
            raise answer
        return Answer(204)


class Answer:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.headers = headers or {}


class SessionRunner:
    """Each step is one DELETE through the guarded session, as the actions send it."""

    def __init__(self, session: cloud.GuardedSession) -> None:
        self.session = session

    def precheck(self, steps: Any, resources: Any) -> dict[Any, Any]:
        return {}

    def run(self, step: Any, resource: Any) -> Attempt:
        service = {"compute": "compute", "block_storage": "block-storage"}[step.service]
        self.session.request(
            f"/{step.resource.id}", "DELETE", endpoint_filter={"service_type": service}
        )
        return Attempt(Result.DONE)

    def lookup_first(self, step: Any, resource: Any) -> bool:
        return False


def test_plans_run_by_several_workers_at_once_never_exceed_the_cap_in_total(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = Service()
    shared = Budget({"compute": 3, "block_storage": 2})
    per_plan = Limits(concurrency={"compute": 3, "block_storage": 2}, retry_initial_wait=0.001)
    sessions = []
    for _ in range(4):  # four workers, one connection each, one budget for the process
        session = cloud.GuardedSession()
        session.budget = shared
        sessions.append(session)
    monkeypatch.setattr(
        ks_session.Session,
        "request",
        lambda self, url, method, **kw: service.request(url, method, **kw),
    )
    plans = [
        plan_of(
            *[step("compute.server", f"s{w}-{i}") for i in range(12)],
            *[step("block_storage.volume", f"v{w}-{i}") for i in range(8)],
        )
        for w in range(4)
    ]
    reports: list[Any] = [None] * 4

    def work(w: int) -> None:
        executor = Executor(SessionRunner(sessions[w]), limits=per_plan)
        reports[w] = executor.execute(plans[w])

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert all(r.succeeded for r in reports)
    assert service.peak["compute"] <= 3 and service.peak["block-storage"] <= 2
    assert shared.peaks()["compute"] <= 3 and shared.peaks()["block_storage"] <= 2


def test_a_429_to_a_read_is_waited_out_before_the_read_is_sent_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    slept: list[float] = []
    sent_at: list[float] = []

    def request(self: Any, url: str, method: str, **kwargs: Any) -> Any:
        sent_at.append(clock.t)
        if len(sent_at) == 1:
            return Answer(429, {"Retry-After": "20"})
        return Answer(200)

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.t += seconds

    monkeypatch.setattr(ks_session.Session, "request", request)
    monkeypatch.setattr(cloud.GuardedSession, "sleep", staticmethod(sleep))
    session = cloud.GuardedSession()
    session.budget = Budget({"image": 2}, monotonic=clock, now=lambda: NOW)
    waits: list[float | None] = []
    real_wait = threading.Condition.wait

    def wait(self: Any, timeout: float | None = None) -> bool:  # the budget's pause, on our clock
        waits.append(timeout)
        clock.t += timeout or 0.0
        return real_wait(self, 0)

    monkeypatch.setattr(threading.Condition, "wait", wait)
    response = session.request("/v2/images", "GET", endpoint_filter={"service_type": "image"})
    monkeypatch.setattr(threading.Condition, "wait", real_wait)

    assert response.status_code == 200
    assert sent_at[1] - sent_at[0] >= 20.0  # Retry-After honoured in full, not cut to 5 s
    assert session.budget.limit_of("image") == 1


def test_a_mutation_answered_429_slows_the_service_and_is_raised_to_the_executor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    error = ks_exc.HttpError(http_status=429)
    error.response = Answer(429, {"Retry-After": "12"})

    def request(self: Any, url: str, method: str, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(ks_session.Session, "request", request)
    session = cloud.GuardedSession()
    session.budget = Budget({"compute": 8}, monotonic=clock, now=lambda: NOW)
    with pytest.raises(ks_exc.HttpError):
        session.request("/servers/x", "DELETE", endpoint_filter={"service_type": "compute"})
    assert session.budget.paused_for("compute") == 12.0
    assert session.budget.limit_of("compute") == 4


def test_a_process_keeps_one_budget_per_settings_until_it_starts_again() -> None:
    from reaper import budget as budgets

    first = budgets.for_process()
    assert budgets.for_process() is first
    first.answered("network", 429, {}, first.monotonic())
    assert first.limit_of("network") < budgets.DEFAULT_CAPS["network"]

    budgets.forget_process_budgets()

    fresh = budgets.for_process()
    assert fresh is not first
    assert fresh.limit_of("network") == budgets.DEFAULT_CAPS["network"]

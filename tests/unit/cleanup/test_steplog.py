"""The controller's journal shows every retry and failure of a step, with the
resource, the service's answer and what happens next."""

from __future__ import annotations

import io
import json
import logging

import structlog

from reaper import log
from reaper.cleanup.steplog import StepLog
from reaper.executor import Executor
from reaper.executor.contract import Fatal, Transient
from reaper.model import ResourceRef, Step
from tests.unit.test_executor import FAST, Result, Script, plan_of


def _logged(run) -> list[dict]:
    stream = io.StringIO()
    log.setup(json=True, stream=stream, level=logging.INFO)
    try:
        run()
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    return [json.loads(x) for x in stream.getvalue().splitlines()]


def _step(rid: str) -> Step:
    return Step(
        id=f"delete:{rid}", action="delete", resource=ResourceRef("block_storage.volume", rid)
    )


def test_every_retry_and_the_final_failure_are_warnings_that_say_what_next() -> None:
    flaky, broken, fine = _step("v1"), _step("v2"), _step("v3")
    plan = plan_of(flaky, broken, fine)
    runner = Script(
        {
            flaky.id: lambda n: Transient("HTTP 409: volume in-use") if n < 3 else Result.DONE,
            broken.id: Fatal("HTTP 400: bad request"),
        }
    )

    def run() -> None:
        observer = StepLog(attempts=FAST.retry_attempts)
        Executor(runner, limits=FAST, observer=observer, sleep=lambda s: None).execute(plan)

    lines = _logged(run)
    retries = [x for x in lines if x["event"] == "step failed, retrying"]
    assert [(x["resource"], x["answer"], x["next"]) for x in retries] == [
        ("block_storage.volume v1", "Transient: HTTP 409: volume in-use", "retry 1/3 in 0.0 s"),
        ("block_storage.volume v1", "Transient: HTTP 409: volume in-use", "retry 2/3 in 0.0 s"),
    ]
    (failed,) = [x for x in lines if x["event"] == "step failed"]
    assert failed["resource"] == "block_storage.volume v2"
    assert "HTTP 400: bad request" in failed["answer"]
    assert "next attempt" in failed["next"]
    assert all(x["level"] == "warning" for x in [*retries, failed])
    assert not [x for x in lines if "v3" in x.get("resource", "")]

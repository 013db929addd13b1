"""A 429's Retry-After, waited out in full by the whole process, against a real HTTP server.

The storm benchmark's fake cloud answers 429 (``Retry-After: 6``, more than
the 5 s reads used to wait at most) to requests over its capacity of one.
Several threads read from it at once through reaper's guarded session, as
a controller's workers do; the server is the witness: after its last 429,
the next request it serves arrives no sooner than the Retry-After, from
whichever thread, even one that was never answered 429 itself.
"""

from __future__ import annotations

import threading

import pytest
from keystoneauth1.identity import v3

from benchmarks.stormcloud import StormCloud, StormSpec, project_id
from reaper import cloud
from reaper.budget import Budget

pytestmark = pytest.mark.functional

RETRY_AFTER = 6.0


def test_retry_after_pauses_every_thread_s_requests_to_that_service_in_full() -> None:
    spec = StormSpec(projects=1, latency=0.2, capacity=1, retry_after=RETRY_AFTER)
    with StormCloud(spec) as fake:
        session = cloud.GuardedSession(auth=v3.Password(**fake.auth()))
        session.budget = Budget({"compute": 2})
        session.get_token()
        answers: list[int] = []

        def read_twice() -> None:
            for _ in range(2):
                response = session.get(
                    f"/servers/detail?project_id={project_id(0)}",
                    endpoint_filter={"service_type": "compute", "interface": "public"},
                )
                answers.append(response.status_code)

        threads = [threading.Thread(target=read_twice) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = fake.stats()

    assert answers == [200] * 6  # every read succeeded in the end
    assert stats["throttled"].get("compute", 0) >= 1
    assert stats["gap_after_429"]["compute"] >= RETRY_AFTER - 0.05
    assert session.budget.limit_of("compute") == 1  # and the process slowed down

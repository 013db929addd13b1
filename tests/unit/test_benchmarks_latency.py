"""The reaction benchmark's arithmetic: percentiles and the cut of one deletion's requests."""

from __future__ import annotations

import pytest

from benchmarks.latency_bench import Sample, cut, percentile, summarize
from tests.faultproxy import Seen


def seen(method: str, started: float, elapsed: float, path: str = "/x") -> Seen:
    service = "identity" if path.startswith("/v3/auth") else "network"
    return Seen(service, method, path, 200, None, True, started, elapsed)


def test_percentiles_are_nearest_rank_so_p99_of_200_is_the_198th() -> None:
    values = [float(v) for v in range(1, 201)]
    assert percentile(values, 0.99) == 198.0
    assert percentile(values, 0.50) == 100.0
    assert percentile([7.0], 0.99) == 7.0


def test_a_deletion_is_cut_at_its_first_request_last_read_and_first_mutation() -> None:
    requests = [
        seen("GET", 9.0, 0.5),  # before the DELETE: another deletion's
        seen("POST", 10.1, 0.1, "/v3/auth/tokens"),  # a token: neither read nor mutation
        seen("GET", 10.3, 0.2),
        seen("GET", 10.4, 0.5),
        seen("DELETE", 11.0, 0.3),
        seen("GET", 10.5, 0.6),  # still running when the first mutation starts: not waited for
        seen("GET", 11.1, 2.0),  # after the first mutation: not a read before it
    ]
    assert cut(requests, deleted_at=10.0) == pytest.approx((0.3, 0.9, 1.0))


def test_a_deletion_without_a_mutation_has_no_reaction() -> None:
    first, reads, mutation = cut([seen("GET", 10.5, 0.1)], deleted_at=10.0)
    assert (round(first or 0, 3), reads, mutation) == (0.5, None, None)


def test_the_summary_counts_only_deletions_that_reached_each_stamp() -> None:
    samples = [
        Sample("p1", 0.2, 0.3, 0.8, 0.9, "complete"),
        Sample("p2", 0.3, 0.4, None, None, "refused"),
    ]
    rows = {row.name: row for row in summarize(samples)}
    assert rows["notified"].count == 2 and rows["first mutation"].count == 1
    assert rows["first mutation"].p99 == 0.9

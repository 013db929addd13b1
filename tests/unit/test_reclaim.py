"""Reading a project's usage: each service's own accounting, named, never guessed."""

from __future__ import annotations

from typing import Any

from reaper import reclaim
from reaper.reclaim import Usage


class Answer:
    def __init__(self, status: int, body: Any = None, headers: dict | None = None) -> None:
        self.status_code, self.body, self.headers = status, body, headers or {}
        self.text = str(body)
        self.url = "http://cloud"
        self.reason = "scripted"

    def json(self) -> Any:
        return self.body


class Proxy:
    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, str | None]] = []

    def get(self, path: str, microversion: str | None = None) -> Answer:
        self.asked.append((path, microversion))
        return self.answers[path]


class Conn:
    def __init__(self, services: dict[str, Proxy]) -> None:
        self.services = services
        for name, proxy in services.items():
            setattr(self, name.replace("-", "_"), proxy)

    def has_service(self, service_type: str) -> bool:
        return service_type in self.services


def test_placement_and_quota_usages_are_figures_named_by_service() -> None:
    conn = Conn(
        {
            "placement": Proxy(
                {"/usages?project_id=p1": Answer(200, {"usages": {"VCPU": 2, "MEMORY_MB": 256}})}
            ),
            "block-storage": Proxy(
                {
                    "/os-quota-sets/p1?usage=true": Answer(
                        200,
                        {
                            "quota_set": {
                                "id": "p1",
                                "gigabytes": {"in_use": 3, "limit": 1000, "reserved": 0},
                            }
                        },
                    )
                }
            ),
            "network": Proxy(
                {
                    "/quotas/p1/details.json": Answer(
                        200, {"quota": {"floatingip": {"used": 1, "limit": 50, "reserved": 0}}}
                    )
                }
            ),
        }
    )

    usage = reclaim.measure(conn, "p1")

    assert usage.figures == {
        "placement.DISK_GB": 0,
        "placement.MEMORY_MB": 256,
        "placement.VCPU": 2,
        "block_storage.gigabytes": 3,
        "network.floatingip": 1,
    }
    assert usage.unavailable == {}
    assert conn.services["placement"].asked == [("/usages?project_id=p1", "1.9")]


def test_a_service_that_refuses_is_named_with_why_not_counted_as_zero() -> None:
    conn = Conn({"compute": Proxy({"/os-quota-sets/p1/detail": Answer(400, {"badRequest": "no"})})})

    usage = reclaim.measure(conn, "p1")

    assert usage.figures == {}
    assert set(usage.unavailable) == {"compute"}


def test_a_reading_limited_to_some_services_asks_no_other() -> None:
    refused = Answer(400, {"badRequest": "no"})
    nova = Proxy({"/os-quota-sets/p1/detail": refused})
    neutron = Proxy({"/quotas/p1/details.json": Answer(200, {"quota": {"port": {"used": 2}}})})
    conn = Conn({"compute": nova, "network": neutron})

    usage = reclaim.measure(conn, "p1", services={"network"})

    assert usage == Usage({"network.port": 2}) and nova.asked == []
    assert usage.services == {"network"}
    assert reclaim.measure(conn, "p1", services=()) == Usage() and nova.asked == []


def test_reclaimed_is_before_minus_after_for_figures_read_both_times() -> None:
    before = Usage({"placement.VCPU": 3, "block_storage.gigabytes": 5, "network.port": 2})
    after = Usage({"placement.VCPU": 0, "block_storage.gigabytes": 6})

    amounts = reclaim.reclaimed(before, after)

    assert amounts == {"block_storage.gigabytes": -1, "placement.VCPU": 3}
    assert reclaim.summary(amounts) == "block_storage.gigabytes -1, placement.VCPU 3"


def test_usage_survives_the_store_round_trip() -> None:
    usage = Usage({"placement.VCPU": 1}, {"compute": "refused"})

    assert Usage.from_dict(usage.to_dict()) == usage


def test_the_services_are_asked_at_once_not_in_a_row() -> None:
    """Placement answers only once Neutron was asked meanwhile (a reader in turn times out)."""
    import threading

    neutron_asked = threading.Event()

    class Waiting(Proxy):
        def get(self, path: str, microversion: str | None = None) -> Answer:
            if not neutron_asked.wait(10):
                return Answer(503, "placement was asked alone")
            return super().get(path, microversion)

    class Telling(Proxy):
        def get(self, path: str, microversion: str | None = None) -> Answer:
            neutron_asked.set()
            return super().get(path, microversion)

    conn = Conn(
        {
            "placement": Waiting({"/usages?project_id=p1": Answer(200, {"usages": {"VCPU": 1}})}),
            "network": Telling(
                {"/quotas/p1/details.json": Answer(200, {"quota": {"port": {"used": 2}}})}
            ),
        }
    )
    usage = reclaim.measure(conn, "p1")
    assert usage.unavailable == {}
    assert usage.figures["placement.VCPU"] == 1 and usage.figures["network.port"] == 2

"""What a deleted project held, measured before and after its cleanup.

An operator asks "how much did reaper give back?", and the answer must be
the services' own accounting, not reaper's count of its steps: Placement's
usages (``VCPU``, ``MEMORY_MB``, ``DISK_GB``: what the scheduler will hand to
someone else) and each service's quota usages (Cinder's gigabytes, Neutron's
ports and floating IPs, Manila's gigabytes, Swift's bytes). A figure is
``<service>.<resource>``; what could not be read is named with why, never
counted as zero (Nova, for one, refuses its quota API for a project
Keystone no longer knows: Placement's figures stand for compute).

Measuring never raises and never writes: a cleanup does not fail because a
usage API did. Reclaimed is ``before - after`` for the figures both sides
have; a figure that grew (the project is not gone, or something was
created meanwhile) is reported as a negative amount, not hidden.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

from reaper.inventory.object_store import account_url

#: Placement resource classes reported (others a cloud defines are kept too).
PLACEMENT_CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB")
#: Placement microversion of ``GET /usages?project_id=`` (1.9).
PLACEMENT_USAGES = "1.9"
#: Manila microversion of ``GET /quota-sets/{project}/detail`` (2.25).
MANILA_DETAIL = "2.25"


@dataclasses.dataclass(frozen=True)
class Usage:
    """One measurement: figures by ``service.resource``, and what could not be read."""

    figures: Mapping[str, float] = dataclasses.field(default_factory=dict)
    unavailable: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"figures": dict(self.figures), "unavailable": dict(self.unavailable)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        return cls(dict(data.get("figures") or {}), dict(data.get("unavailable") or {}))

    @property
    def services(self) -> frozenset[str]:
        """The services (figure prefixes) that gave at least one figure."""
        return frozenset(name.split(".", 1)[0] for name in self.figures)


class Measure(Protocol):
    """:func:`measure` over a connection: a project's usage, of ``services`` only if given."""

    def __call__(self, project_id: str, services: Collection[str] | None = None) -> Usage: ...


def reclaimed(before: Usage, after: Usage) -> dict[str, float]:
    """``before - after`` for every figure measured both times, in name order.

    A figure absent after (the service answered for ``before`` only) is left
    out rather than guessed.
    """
    return {
        name: _number(before.figures[name] - after.figures[name])
        for name in sorted(before.figures)
        if name in after.figures
    }


def summary(amounts: Mapping[str, float]) -> str:
    """``placement.VCPU 2, placement.MEMORY_MB 256, ...``; non-zero amounts only."""
    return ", ".join(f"{name} {_number(value)}" for name, value in amounts.items() if value)


def _number(value: float) -> float:
    return int(value) if float(value).is_integer() else value


# -- reading the services --------------------------------------------------------------


Reader = Callable[[Any, str], Mapping[str, float]]
#: (figure prefix, catalog service type, reader), in the order figures are kept.
READERS: tuple[tuple[str, str, Reader], ...] = ()


def measure(conn: Any, project_id: str, services: Collection[str] | None = None) -> Usage:
    """Every figure the catalog's services give for ``project_id``, read now.

    The services are asked at the same time (each is one request to a
    different service): the reading before a cleanup is on the way to its
    first step, and one round trip costs less than six in a row.
    ``services`` (figure prefixes) limits the reading to them: a reading after a
    cleanup asks only what the one before could read, since only figures read both
    times are reclaimed (Nova, which refuses a deleted project's quotas, is not
    asked after a reading before that it refused or was not asked for:
    :mod:`reaper.cleanup.early` does not ask it once Keystone says the project is gone).
    """
    figures: dict[str, float] = {}
    unavailable: dict[str, str] = {}

    def ask(service_type: str, read: Reader) -> Mapping[str, float] | None:
        return read(conn, project_id) if conn.has_service(service_type) else None

    readers = [r for r in READERS if services is None or r[0] in services]
    if not readers:
        return Usage(figures, unavailable)
    threads = len(readers)
    with concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="reaper-usage") as pool:
        asked = [(service, pool.submit(ask, kind, read)) for service, kind, read in readers]
        for service, future in asked:
            try:
                found = future.result()
            except Exception as exc:
                unavailable[service] = f"{type(exc).__name__}: {exc}"[:300]
                continue
            if found is None:
                continue
            figures.update({f"{service}.{name}": _number(value) for name, value in found.items()})
    return Usage(figures, unavailable)


def _json(response: Any) -> dict[str, Any]:
    if response.status_code >= 400:
        from openstack import exceptions as sdk_exc

        sdk_exc.raise_from_response(response)
    return response.json()


def placement_usages(conn: Any, project_id: str) -> dict[str, float]:
    body = _json(
        conn.placement.get(f"/usages?project_id={project_id}", microversion=PLACEMENT_USAGES)
    )
    usages = body.get("usages") or {}
    return {rc: float(usages.get(rc, 0)) for rc in sorted({*PLACEMENT_CLASSES, *usages})}


def nova_usages(conn: Any, project_id: str) -> dict[str, float]:
    body = _json(conn.compute.get(f"/os-quota-sets/{project_id}/detail"))
    return _in_use(body.get("quota_set") or {}, "in_use")


def cinder_usages(conn: Any, project_id: str) -> dict[str, float]:
    body = _json(conn.block_storage.get(f"/os-quota-sets/{project_id}?usage=true"))
    return _in_use(body.get("quota_set") or {}, "in_use")


def neutron_usages(conn: Any, project_id: str) -> dict[str, float]:
    body = _json(conn.network.get(f"/quotas/{project_id}/details.json"))
    return _in_use(body.get("quota") or {}, "used")


def manila_usages(conn: Any, project_id: str) -> dict[str, float]:
    body = _json(
        conn.shared_file_system.get(f"/quota-sets/{project_id}/detail", microversion=MANILA_DETAIL)
    )
    return _in_use(body.get("quota_set") or {}, "in_use")


def swift_usages(conn: Any, project_id: str) -> dict[str, float]:
    """The account's own counters (HEAD); an account never written to counts zero."""
    response = conn.object_store.head(account_url(conn, project_id))
    if response.status_code == 404:
        return {"bytes": 0.0, "objects": 0.0, "containers": 0.0}
    if response.status_code >= 400:
        _json(response)
    headers = response.headers
    return {
        "bytes": float(headers.get("X-Account-Bytes-Used", 0)),
        "objects": float(headers.get("X-Account-Object-Count", 0)),
        "containers": float(headers.get("X-Account-Container-Count", 0)),
    }


def _in_use(quota_set: Mapping[str, Any], key: str) -> dict[str, float]:
    """The ``in_use``/``used`` figure of each resource of a quota-set answer."""
    return {
        name: float(value[key])
        for name, value in sorted(quota_set.items())
        if isinstance(value, Mapping) and isinstance(value.get(key), int | float)
    }


READERS = (
    ("placement", "placement", placement_usages),
    ("compute", "compute", nova_usages),
    ("block_storage", "block-storage", cinder_usages),
    ("network", "network", neutron_usages),
    ("shared_file_system", "shared-file-system", manila_usages),
    ("object_store", "object-store", swift_usages),
)

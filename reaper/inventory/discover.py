"""Run every inventory handler for a scope, in parallel, and account for gaps.

A plan must never be silently smaller than reality. A core service missing
from the catalog is skipped *and said so* (an optional one, such as DNS, is
simply not run by this cloud); a handler that fails makes the
inventory ``incomplete``, which the plan shows and the audit records.
Objects a service returned for an owner filter that failed the owner
re-check are kept aside as ``mismatches`` for the audit trail.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reaper import log, progress
from reaper.inventory import liveuse, registry
from reaper.inventory.base import Finding, Handler, Scope
from reaper.model import Resource

LOG = log.get(__name__)


#: How a plan says a service was not inspected because the cloud does not run it: not a
#: failure (nothing of it can exist), unlike a handler's error (its resources may).
NOT_IN_CATALOG = "service not in the catalog, not inspected"


def failures(incomplete: tuple[str, ...]) -> tuple[str, ...]:
    """The reasons of a plan's ``incomplete`` that mean resources may have been missed."""
    return tuple(r for r in incomplete if not r.endswith(NOT_IN_CATALOG))


@dataclass(frozen=True)
class Inventory:
    scope: Scope
    findings: tuple[Finding, ...]

    @property
    def resources(self) -> tuple[Resource, ...]:
        return tuple(r for f in self.findings for r in f.resources)

    @property
    def mismatches(self) -> tuple[Resource, ...]:
        return tuple(r for f in self.findings for r in f.mismatches)

    @property
    def incomplete(self) -> tuple[str, ...]:
        reasons: list[str] = []
        for finding in self.findings:
            if finding.skipped:
                reasons.append(f"{finding.handler}: {NOT_IN_CATALOG}")
            reasons += [f"{finding.handler}: {e}" for e in finding.errors]
        return tuple(reasons)


def handlers() -> dict[str, Handler]:
    return {name: cls() for name, cls in registry.handler_classes().items()}


def discover(conn: Any, scope: Scope, selected: Mapping[str, Handler] | None = None) -> Inventory:
    """Every resource of ``scope`` that the registered handlers can find."""
    chosen = dict(selected) if selected is not None else handlers()
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=max(1, len(chosen)), thread_name_prefix="reaper-discover"
    ) as pool:
        futures = {
            pool.submit(_run, name, handler, conn, scope): name
            for name, handler in in_start_order(chosen)
        }
        done: dict[str, Finding] = {}
        for future in concurrent.futures.as_completed(futures):
            done[futures[future]] = finding = future.result()
            progress.report(_said(finding))
        findings = tuple(done[name] for name in sorted(done))
    found = tuple(r for f in findings for r in f.resources)
    references = [
        _cross(name, handler, conn, scope, found)
        for name, handler in sorted(chosen.items())
        if type(handler).cross_reference is not Handler.cross_reference
    ]
    return _with_live_use(conn, scope, (*findings, *references))


def in_start_order(chosen: Mapping[str, Handler]) -> list[tuple[str, Handler]]:
    """The handlers in the order discovery starts them: the most listings first, then by name.

    Each handler's thread builds and sends its requests on reaper's one
    interpreter, so the first started send first. On the testbed the verdict's
    end -> Neutron's first listing took 92 ms p50 in name order (Cinder, Nova
    and Glance sent theirs first) while Neutron, whose eleven listings and the
    live-use lookups after them end last, sat idle but for the usage reading.
    """
    return sorted(chosen.items(), key=lambda item: (-item[1].listings, item[0]))


def _with_live_use(conn: Any, scope: Scope, findings: tuple[Finding, ...]) -> Inventory:
    """Every finding's resources with who else (alive) uses them (:mod:`.liveuse`)."""
    resources = [r for f in findings for r in f.resources]
    checked, annotated = liveuse.annotate(conn, scope, resources)
    by_ref = {r.ref: r for r in annotated}
    findings = tuple(
        dataclasses.replace(f, resources=tuple(by_ref.get(r.ref, r) for r in f.resources))
        for f in findings
    )
    return Inventory(scope=scope, findings=(*findings, checked))


def _cross(
    name: str, handler: Handler, conn: Any, scope: Scope, found: tuple[Resource, ...]
) -> Finding:
    """A handler's cross-references; a failure makes the inventory incomplete, as in _run."""
    try:
        if not conn.has_service(handler.service_type):
            return Finding(handler=f"{name}.references", skipped=not handler.optional)
        return handler.cross_reference(conn, scope, found)
    except Exception as exc:
        LOG.warning("cross-reference failed", handler=name, error=str(exc))
        return Finding(handler=f"{name}.references", errors=(f"{type(exc).__name__}: {exc}",))


def _said(finding: Finding) -> str:
    """One line of progress for a service whose discovery just ended."""
    if finding.skipped:
        return f"{finding.handler}: {NOT_IN_CATALOG}"
    if finding.errors:
        return f"{finding.handler}: FAILED ({finding.errors[0]}); the plan will be incomplete"
    return f"{finding.handler}: {len(finding.resources)} found"


def _run(name: str, handler: Handler, conn: Any, scope: Scope) -> Finding:
    try:
        if not conn.has_service(handler.service_type):
            return Finding(handler=name, skipped=not handler.optional)
        return handler.discover(conn, scope)
    except Exception as exc:
        LOG.warning("inventory handler failed", handler=name, error=str(exc))
        return Finding(handler=name, errors=(f"{type(exc).__name__}: {exc}",))

"""Quarantine: keep everything as evidence, but make it harmless."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from reaper.actions.base import Action, StepKey
from reaper.actions.server import stop_server, tag_resource
from reaper.executor import Attempt
from reaper.model import Resource

QUARANTINE_TAG = "reaper:quarantined"


class Quarantine(Action):
    name = "quarantine"
    description = (
        f"Disassociate the server's floating IPs, admin-lock it, tag it {QUARANTINE_TAG} "
        "and stop it; disks and volumes are left untouched."
    )
    schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"reason": {"type": "string", "maxLength": 255}},
    }
    resource_types: ClassVar[frozenset[str]] = frozenset({"compute.server"})

    def run(
        self,
        client: Any,
        resource: Resource,
        params: Mapping[str, Any],
        step: StepKey | None = None,
    ) -> Attempt:
        """One attempt, resuming what an earlier one did.

        The executor retries the step as a whole, so each part first asks
        whether it is done already (the server as it is now: locked? tagged?
        stopping?). A retry then sends only what is left, instead of redoing
        four mutations of which any may fail again on a flaky cloud.
        """
        net = client.network
        # Cut it off from the outside first: a floating IP is its public face.
        for port in net.ports(device_id=resource.id):
            for fip in net.ips(port_id=port.id):
                net.update_ip(fip, port_id=None)
        server = client.compute.get_server(resource.id)
        if not server.is_locked:
            client.compute.lock_server(
                resource.id, locked_reason=params.get("reason", "quarantined by reaper")
            )
        if QUARANTINE_TAG not in (server.tags or ()):
            tag_resource(client, resource, [QUARANTINE_TAG])
        result = stop_server(client, resource, current=server)
        return Attempt(result, "disassociated, locked, tagged, stopping")

"""The uses of a deleted owner's volumes: the servers they are attached to, pending transfers.

Cinder's and Nova's side of :mod:`.uses` (whose registry runs these finders).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from reaper.inventory.base import Scope
from reaper.inventory.use import UNKNOWN, Found, Lookup, Use, lookup, of
from reaper.model import Resource

#: The Cinder volume status of a volume with a pending transfer.
AWAITING_TRANSFER = "awaiting-transfer"


def volume_servers(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Servers the owner's volumes are attached to (multi-attach: another project's too).

    A server among ``resources`` (discovery just listed it) is not asked
    for again: its project is in hand. Any other is read once, however many
    of the volumes are attached to it. An attachment to a server Nova no
    longer has is no use (Cinder forgets it a little later): nobody uses the
    volume through it.
    """
    known = {r.id: r.project_id for r in of(resources, "compute.server") if r.project_id}
    attached: dict[str, list[Resource]] = defaultdict(list)
    for vol in of(resources, "block_storage.volume"):
        for att in vol.attributes.get("attachments") or ():
            server_id = att.get("server_id")
            if server_id and vol not in attached[server_id]:
                attached[server_id].append(vol)
    in_hand = {sid: vols for sid, vols in attached.items() if sid in known}
    lookups = [lookup(_attached_known, known, in_hand)] if in_hand else []
    lookups += [
        lookup(_attached_to, conn, sid, tuple(vols))
        for sid, vols in sorted(attached.items())
        if sid not in known
    ]
    return lookups


def _attached_known(known: Mapping[str, str], attached: Mapping[str, list[Resource]]) -> Found:
    for sid, vols in sorted(attached.items()):
        for vol in vols:
            yield vol.ref, Use(known[sid], "compute.server", sid, f"attached to server {sid}")


def _attached_to(conn: Any, server_id: str, vols: Sequence[Resource]) -> Found:
    from openstack import exceptions  # the SDK is already loaded by then

    try:
        srv = conn.compute.get_server(server_id)
    except exceptions.NotFoundException:
        return
    use = Use(srv.project_id, "compute.server", server_id, f"attached to server {server_id}")
    for vol in vols:
        yield vol.ref, use


def volume_transfers(conn: Any, scope: Scope, resources: Sequence[Resource]) -> list[Lookup]:
    """Pending transfers of the owner's volumes: whoever accepts one takes the volume.

    Listed only when a volume awaits a transfer (its status says so), once
    for all of them. openstacksdk drops ``all_tenants`` from a transfer
    listing, so the request names it itself.
    """
    waiting = {v.id: v for v in of(resources, "block_storage.volume") if _awaits_transfer(v)}
    return [lookup(_transfers, conn, waiting)] if waiting else []


def _transfers(conn: Any, waiting: Mapping[str, Resource]) -> Found:
    answer = conn.block_storage.get(
        "/volume-transfers/detail?all_tenants=True", microversion="3.55"
    )
    answer.raise_for_status()
    for transfer in answer.json().get("transfers") or ():
        vol = waiting.get(transfer.get("volume_id"))
        if vol is not None:
            detail = (
                f"pending transfer {transfer.get('id')}: whoever accepts it takes the volume "
                "(the project is known only then)"
            )
            yield vol.ref, Use(UNKNOWN, "block_storage.transfer", str(transfer.get("id")), detail)


def _awaits_transfer(volume: Resource) -> bool:
    status = volume.attributes.get("status") or volume.status
    return str(status or "").lower() == AWAITING_TRANSFER

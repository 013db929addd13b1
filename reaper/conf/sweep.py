"""``[sweep]``: finding deletions whose notification was lost, and when to hold for an operator."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "sweep"


OPTS = [
    cfg.BoolOpt(
        "enabled",
        default=True,
        help="Periodically look for resources owned by projects or users that no longer "
        "exist in Keystone, to catch deletions whose notification was lost.",
    ),
    cfg.IntOpt(
        "interval",
        default=3600,
        min=60,
        help="Seconds between two sweeps. Each sweep compares Keystone's project and user "
        "lists with the identities reaper saw alive (a few requests) and opens a cleanup for "
        "each one that vanished.",
    ),
    cfg.IntOpt(
        "full_scan_interval",
        default=86400,
        min=60,
        help="Seconds between two full scans: sweeps that also list every server, volume, "
        "snapshot, network, port, floating IP, router and image of the cloud (paged, a "
        "request per thousand resources) to find owners reaper never saw alive. The first "
        "sweep after the controller starts is always a full scan; the sweeps between two "
        "full scans list only what changed since the last scan began.",
    ),
    cfg.IntOpt(
        "min_age",
        default=600,
        min=0,
        help="Resources younger than this many seconds are ignored by the sweep, so a "
        "project being created is never mistaken for an orphan.",
    ),
    cfg.IntOpt(
        "max_orphans",
        default=20,
        min=0,
        help="A sweep that finds more orphaned owners (projects and users Keystone says are "
        "gone) than this opens no tombstone: it is held for an operator, with an alert "
        "(log and reaper_sweeps_held_total). Review with `reaper sweep`, approve with "
        "`reaper sweep --open --approve`. 0: no absolute limit.",
    ),
    cfg.FloatOpt(
        "max_orphan_fraction",
        default=0.1,
        min=0.0,
        max=1.0,
        help="The same hold, when the orphaned owners exceed this fraction of the projects "
        "Keystone lists: a Keystone answering 404 for everything looks like this. "
        "0: no relative limit.",
    ),
]

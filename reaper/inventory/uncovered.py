"""What a deleted project may leave that reaper cannot find: named, never pretended covered.

Barbican lists secrets, containers and orders of the caller's own project
only, even to an admin (an admin reaches another project's secret only by
its id, which nothing tells reaper; tried on the testbed, see
doc/policies.md). reaper therefore has no handler for them, and
``reaper policy explain`` shows a row for each such type saying so rather
than leaving it out (an absent row reads like "nothing there"). Barbican's
own keystone listener deletes them; the controller reports whether it runs
(:mod:`reaper.events.barbican`).
"""

from __future__ import annotations

from collections.abc import Mapping

_BARBICAN = (
    "not covered: Barbican lists only the caller's own project's {what}, even to an "
    "admin, so reaper cannot find a deleted project's; Barbican's keystone listener "
    "deletes them (see reaper_barbican_keystone_listener and doc/policies.md)"
)

#: Types reaper cannot enumerate for a deleted project, and why.
UNCOVERED: Mapping[str, str] = {
    "key_manager.secret": _BARBICAN.format(what="secrets (with their ACLs and consumers)"),
    "key_manager.container": _BARBICAN.format(what="containers (with their consumers)"),
    "key_manager.order": _BARBICAN.format(what="orders"),
}

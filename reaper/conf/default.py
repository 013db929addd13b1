"""``[DEFAULT]``: what reaper may do and where its state lives.

Also the controller's own ``workers``, ``poll_interval`` and
``shutdown_grace``: declared here rather than beside the controller so that
reading the configuration does not import the messaging stack into every CLI
command.
"""

from __future__ import annotations

import os
import socket

from oslo_config import cfg

GROUP = "DEFAULT"


def _default_state_path() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(base, "reaper")


OPTS = [
    cfg.BoolOpt(
        "debug",
        default=False,
        help="Log at DEBUG level, including the HTTP requests of the libraries reaper uses.",
    ),
    cfg.StrOpt(
        "host",
        default=socket.gethostname(),
        sample_default="<hostname>",
        help="Name of this reaper instance. It is recorded as the observer of every audit "
        "record and as the owner of claimed work, so it must be unique per controller.",
    ),
    cfg.StrOpt(
        "state_path",
        default=_default_state_path(),
        sample_default="$XDG_STATE_HOME/reaper",
        help="Directory where reaper keeps its embedded SQLite store and generated keys. "
        "Services normally set this to /var/lib/reaper.",
    ),
    cfg.BoolOpt(
        "dry_run",
        default=True,
        help="When true, the controller verifies, discovers, plans and audits but never "
        "changes a cloud resource. Set it to false only after reviewing the plans it "
        "records, because from then on deletions in Keystone lead to real cleanups.",
    ),
    cfg.ListOpt(
        "policy_paths",
        default=[],
        help="Policy files or directories of *.yaml files to load. When empty, the default "
        "policies shipped with reaper are used.",
    ),
    cfg.ListOpt(
        "protected_project_ids",
        default=[],
        help="Projects whose resources reaper never touches, whatever a policy says. "
        "Reaper's own project (the one its credentials are scoped to) and the admin project "
        "(admin_project_name) are always protected and need not be listed; list the service "
        "project (if reaper runs in another one) and every other project the cloud runs "
        "on, such as those of Octavia's amphorae, Trove's or Magnum's service instances. "
        "Protection fails closed.",
    ),
    cfg.StrOpt(
        "admin_project_name",
        default="admin",
        help="Name of the cloud's admin project, always protected whatever the policies and "
        "protected_project_ids say (keystone-manage bootstrap names it admin). Its id is "
        "asked of Keystone before every plan; when this option or "
        "admin_project_domain_name is changed from its default and Keystone has no such "
        "project, nothing is planned until it is found.",
    ),
    cfg.StrOpt(
        "admin_project_domain_name",
        default="Default",
        help="Name (or id) of the domain of admin_project_name (keystone-manage bootstrap "
        "puts it in the domain named Default, id default).",
    ),
    cfg.ListOpt(
        "protected_domain_ids",
        default=[],
        help="Domains whose projects and users reaper never touches, whatever a policy says.",
    ),
    # The controller's own (reaper/controller.py); declared here so that reading the
    # configuration does not import the messaging stack into every CLI command.
    cfg.IntOpt(
        "workers",
        default=4,
        min=1,
        help="Number of tombstones one controller works on at the same time.",
    ),
    cfg.FloatOpt(
        "poll_interval",
        default=2.0,
        min=0.1,
        help="Seconds between looks for due work (grace periods ending, retries, other "
        "controllers' notifications); new notifications wake the workers at once.",
    ),
    cfg.FloatOpt(
        "shutdown_grace",
        default=10.0,
        min=0.0,
        help="Seconds the controller gives itself to stop after SIGTERM: requests in flight "
        "finish, steps waiting to retry are left to the next claim, and the process exits 0 "
        "within this time even if something still hangs. Keep it below the service "
        "manager's stop timeout (systemd's TimeoutStopSec).",
    ),
]

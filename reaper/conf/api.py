"""``[api]``: where the controller serves ``/healthz`` and ``/metrics``."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "api"


OPTS = [
    cfg.HostAddressOpt(
        "host",
        default="127.0.0.1",
        help="Address on which the controller serves /healthz and /metrics.",
    ),
    cfg.PortOpt(
        "port",
        default=9797,
        help="Port on which the controller serves /healthz and /metrics.",
    ),
]

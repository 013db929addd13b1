"""The ``openstack.cli.extension`` entry point: how python-openstackclient finds reaper.

OSC resolves the cloud (``--os-cloud``, ``OS_CLOUD``, the ``OS_*`` variables,
every ``--os-*`` option) and hands :func:`make_client` its client manager;
reaper's commands then run against that cloud, with reaper.conf read as
the ``reaper`` command reads it (``--reaper-config-file``, else the first of
oslo.config's usual places: ``~/.reaper/reaper.conf``, ``~/reaper.conf``,
``/etc/reaper/reaper.conf``, ``/etc/reaper.conf``).
"""

from __future__ import annotations

import argparse
from typing import Any

API_NAME = "reaper"
API_VERSION_OPTION = "os_reaper_api_version"
DEFAULT_API_VERSION = "1"
API_VERSIONS = ("1",)


def make_client(instance: Any) -> Any:
    """What ``self.app.client_manager.reaper`` is: reaper's view of OSC's cloud."""
    from reaper.cli.osc.client import ReaperClient

    # OSC's cloud config keeps every global option it parsed, ours included.
    files = instance._cli_options.config.get("reaper_config_file") or []
    return ReaperClient(instance, config_files=list(files))


def build_option_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--os-reaper-api-version",
        metavar="<reaper-api-version>",
        default=DEFAULT_API_VERSION,
        help="reaper command set version (only 1).",
    )
    parser.add_argument(
        "--reaper-config-file",
        action="append",
        default=[],
        metavar="PATH",
        help="reaper.conf for 'openstack reaper' commands (repeatable); default: the "
        "first that exists of ~/.reaper/reaper.conf, ~/reaper.conf, "
        "/etc/reaper/reaper.conf, /etc/reaper.conf (as the reaper command finds it).",
    )
    return parser

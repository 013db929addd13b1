"""reaper's commands see OSC's cloud through the same interface as the ``reaper`` app.

The command classes of :mod:`reaper.cli` ask ``self.app`` for ``conf``,
``credentials``, ``connect``, ``open_store``, ``keystone_error`` and its
streams. :class:`ReaperClient` answers those from python-openstackclient's
client manager, so the very same commands (same columns, same exit
statuses) run as ``openstack reaper ...``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from oslo_config import cfg

from reaper import cloud, config, credentials, log
from reaper.cli import stores


class ReaperClient:
    def __init__(self, client_manager: Any, *, config_files: list[str]) -> None:
        self._manager = client_manager
        self._config_files = config_files
        self._conf: cfg.ConfigOpts | None = None
        # Set by the command that runs (the OSC shell's streams).
        self.stdin: Any = None
        self.stdout: Any = None
        self.stderr: Any = None
        #: The OSC shell's global options (``-q`` is ``verbose_level`` 0), as ``reaper``'s.
        self.options: Any = None

    @property
    def conf(self) -> cfg.ConfigOpts:
        if self._conf is None:
            argv: list[str] = []
            for path in self._config_files:
                argv += ["--config-file", path]
            self._conf = config.make_conf(argv, prog="openstack reaper")
            # Logs go to stderr, as under ``reaper``: stdout is the command's data.
            # -q: the result and its errors, not advice about reaper.conf.
            quiet = getattr(self.options, "verbose_level", 1) < 1
            log.setup(level=logging.WARNING, stream=sys.stderr, advice=not quiet)
        return self._conf

    @property
    def credentials(self) -> credentials.CredentialSource:
        """OSC's cloud: named (``--os-cloud``/``OS_CLOUD``) or from ``OS_*`` options."""
        region = self._manager._cli_options
        files = tuple(self.conf.config_file or ())
        if region.name and region.name != "envvars":
            return credentials.CredentialSource(
                credentials.Origin.OPTION, cloud=region.name, config_files=files
            )
        return credentials.CredentialSource(
            credentials.Origin.ENVIRONMENT,
            auth_type=region.config.get("auth_type") or "password",
            config_files=files,
        )

    def connect(self, *, read_only: bool) -> Any:
        conn = cloud.connect_region(self._manager._cli_options, read_only=read_only)
        cloud.authenticate(conn, self.credentials)
        return conn

    def keystone_error(self, exc: BaseException, conn: Any) -> str:
        problem = credentials.explain(exc, self.credentials, auth_url=cloud.auth_url_of(conn))
        return str(problem or exc)

    def open_store(self, *, create: bool = False) -> Any:
        return stores.open_store(
            self.conf,
            create=create,
            missing_hint="pass --reaper-config-file with the reaper.conf the controller uses",
        )

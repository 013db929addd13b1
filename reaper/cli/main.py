"""``reaper``: the operator's command line.

Commands are cliff commands registered in the ``reaper.cli`` entry-point
namespace (``policy_validate`` becomes ``reaper policy validate``), so output
formats (``-f table|json|yaml|csv|value``), help and completion come from
the framework. Global options add reaper's configuration files and the
clouds.yaml cloud to use; the configuration object is built once here and
handed to each command as ``self.app.conf``.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from typing import Any

from cliff.app import App
from cliff.commandmanager import CommandManager
from oslo_config import cfg

import reaper
from reaper import cloud, config, credentials, log
from reaper.cli import exitcodes, failures, stores


class ReaperApp(App):
    NAME = "reaper"

    def __init__(self) -> None:
        super().__init__(
            description=(
                "reaper cleans up the resources that deleted Keystone projects, users and "
                "domains leave behind. Planning is read-only; apply runs exactly a shown plan."
            ),
            version=reaper.version_string(),
            command_manager=CommandManager("reaper.cli"),
            deferred_help=True,
        )
        self._conf: cfg.ConfigOpts | None = None
        self._credentials: credentials.CredentialSource | None = None

    def build_option_parser(
        self,
        description: str | None,
        version: str | None,
        argparse_kwargs: dict[str, Any] | None = None,
    ) -> argparse.ArgumentParser:
        parser = super().build_option_parser(description, version, argparse_kwargs)
        for action in parser._actions:
            if isinstance(action, argparse._VersionAction):
                # cliff names the program after sys.argv[0]; ours has one name.
                action.version = f"{self.NAME} {version}"
            elif "--quiet" in action.option_strings:
                action.help = (
                    "Only the result, warnings and errors: no line saying which config, "
                    "credentials and store are used, no advice about reaper.conf."
                )
            elif "--log-file" in action.option_strings:
                action.help = (
                    "Also append the log to this file as JSON lines (INFO and up; DEBUG "
                    "with --debug), whatever -q or -v show on stderr."
                )
        parser.add_argument(
            "--config-file",
            action="append",
            default=[],
            metavar="PATH",
            help="reaper.conf to read (repeatable). Defaults to /etc/reaper/reaper.conf "
            "when it exists, else embedded defaults.",
        )
        parser.add_argument(
            "--os-cloud",
            metavar="NAME",
            default=None,
            help="Cloud in clouds.yaml with admin credentials. Without it: env OS_CLOUD, "
            "else the OS_* variables of an openrc (OS_AUTH_URL...), else "
            "[service_credentials] of reaper.conf.",
        )
        return parser

    def prepare_to_run_command(self, cmd: Any) -> None:
        """Credentials that cannot be used end the command with one line, not a traceback."""
        cmd.run = functools.partial(
            failures.run_explained,
            cmd.run,
            stderr=self.stderr,
            source=lambda: self._credentials,
            debug=self.options.debug,
        )

    def run_subcommand(self, argv: list[str]) -> int:
        """Usage errors exit 1 (bad input), never 2, which means "a step failed"."""
        try:
            self.command_manager.find_command(argv)
        except ValueError:
            stdout, self.stdout = self.stdout, self.stderr
            try:
                super().run_subcommand(argv)  # says so, with the commands it resembles
            finally:
                self.stdout = stdout
            return exitcodes.ERROR
        try:
            return super().run_subcommand(argv)
        except SystemExit as exc:
            if exc.code == USAGE_EXIT:
                return exitcodes.ERROR
            raise

    def configure_logging(self) -> None:
        # Progress and logs go to stderr; stdout carries only the command's output.
        level = {0: logging.WARNING, 1: logging.WARNING, 2: logging.INFO}.get(
            self.options.verbose_level, logging.DEBUG
        )
        log.setup(
            level=level,
            stream=self.stderr,
            debug=self.options.debug,
            log_file=self.options.log_file,
            # -q: the command's result and its errors, not advice about reaper.conf.
            advice=self.options.verbose_level >= 1,
        )

    @property
    def conf(self) -> cfg.ConfigOpts:
        """reaper's configuration, parsed on first use (help needs none).

        Reading it says on stderr, in one line (not with ``-q``), which
        files, credentials and store the command uses.
        """
        if self._conf is None:
            argv: list[str] = []
            for path in self.options.config_file:
                argv += ["--config-file", path]
            self._conf = config.make_conf(argv)
            if self.options.verbose_level >= 1:
                try:
                    source: Any = self.credentials
                except credentials.CredentialError as exc:
                    source = exc
                store = stores.describe(self._conf)
                self.stderr.write(credentials.describe(source, self._conf, store) + "\n")
        return self._conf

    @property
    def credentials(self) -> credentials.CredentialSource:
        """Where the cloud credentials come from: --os-cloud, the environment, reaper.conf."""
        if self._credentials is None:
            self._credentials = credentials.resolve(
                self.conf, os_cloud=self.options.os_cloud, environ=os.environ
            )
        return self._credentials

    def open_store(self, *, create: bool = False) -> Any:
        """The store reaper.conf names; a read-only command (``create=False``) never makes one."""
        return stores.open_store(
            self.conf, create=create, missing_hint="check --config-file and state_path"
        )

    def keystone_error(self, exc: BaseException, conn: Any) -> str:
        """What to tell the operator when Keystone could not answer a question."""
        problem = credentials.explain(exc, self.credentials, auth_url=cloud.auth_url_of(conn))
        return str(problem or exc)

    def connect(self, *, read_only: bool) -> Any:
        """An authenticated admin connection, or a CredentialError that says what to fix."""
        conn = cloud.connect(self.conf, read_only=read_only, source=self.credentials)
        cloud.authenticate(conn, self.credentials)
        return conn


#: What argparse exits with on a usage error.
USAGE_EXIT = 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        # cliff would open an interactive shell; an operator tool should explain itself.
        argv = ["--help"]
    try:
        return ReaperApp().run(argv)
    except SystemExit as exc:  # a usage error in the global options
        if exc.code == USAGE_EXIT:
            return exitcodes.ERROR
        raise


if __name__ == "__main__":
    sys.exit(main())

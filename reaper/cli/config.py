"""``reaper config check``: what is wrong with reaper.conf, before the controller finds out.

One line per problem, naming the file and the ``[section] option`` to fix;
exit 1 when any is an error. The checks, in order: the files themselves
(unknown sections and options, values their type refuses, a missing
``transport_url``; see :mod:`reaper.configcheck`), the credentials (a token
is fetched), the store (reachable and at this reaper's schema; nothing is
created) and the policies (loaded as the controller loads them).
"""

from __future__ import annotations

import argparse

from cliff.command import Command

from reaper import configcheck, credentials
from reaper.cleanup.house import AdminProject, AdminProjectMissing, House, house
from reaper.cleanup.verify import VerificationError
from reaper.cli import exitcodes


class ConfigCheck(Command):
    """Check reaper.conf, the credentials, the store and the policies; one line per problem.

    Warnings are printed too but do not fail the check; --offline skips
    Keystone and the broker.
    """

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--offline",
            action="store_true",
            help="Ask neither Keystone for a token nor the broker for a connection.",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        conf = self.app.conf
        problems = configcheck.file_problems(conf)
        known: House | None = None
        if not parsed_args.offline:
            credential_problems, known = self._credential_problems()
            problems += credential_problems
            problems += configcheck.broker_problems(conf)
        problems += configcheck.store_problems(conf)
        problems += configcheck.policy_problems(conf)
        problems += configcheck.protection_warnings(conf, known)
        for problem in problems:
            self.app.stdout.write(f"{problem}\n")
        failed = configcheck.errors(problems)
        if not failed:
            files = ", ".join(configcheck.config_files(conf)) or "defaults"
            self.app.stdout.write(f"{files}: OK\n")
        return exitcodes.ERROR if failed else exitcodes.OK

    def _credential_problems(self) -> tuple[list[configcheck.Problem], House | None]:
        """The credentials' problems, or the always-protected projects they lead to."""
        try:
            conn = self.app.connect(read_only=True)
        except Exception as exc:
            problem = credentials.explain(exc, self.app._credentials)
            return [configcheck.Problem("credentials", str(problem or exc))], None
        admin = AdminProject.from_conf(self.app.conf)
        try:
            return [], house(conn, admin)
        except VerificationError as exc:
            missing = isinstance(exc, AdminProjectMissing)
            where = "[DEFAULT] admin_project_name" if missing else "credentials"
            return [configcheck.Problem(where, str(exc))], None
        finally:
            conn.close()

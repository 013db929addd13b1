"""Every documented command runs, as written, against the testbed (see doc/README.md).

Each page's ``sh`` blocks run top to bottom in a terminal of the page's own
(``docs_shell.Shell``), pages in :data:`ORDER`, so that what install.md sets
up (the service user, the signing key, reaper's queue, the
``/etc/reaper/reaper.conf`` it shows) is what README.md and operations.md
then use, as on a host. What the session had to put in place of the docs'
placeholders is all in :data:`SUBSTITUTIONS`, and what a command needs beyond
"exits 0" is in :data:`EXPECT`; nothing else in a command is changed.

The session stands in for a host like this:

* ``/etc/reaper/`` and ``/var/lib/reaper`` are folders of the session
  (``SUBSTITUTIONS``), and ``~/.reaper/reaper.conf`` links to the
  ``/etc/reaper/reaper.conf`` of the session, so that ``reaper`` finds it
  by itself as it finds ``/etc/reaper/reaper.conf`` on a host;
* ``pip`` is a venv of the session's that already holds reaper's
  dependencies (``pip install .`` builds and installs reaper itself, and the
  ``reaper`` commands after it are that installed copy);
* clouds.yaml (``OS_CLIENT_CONFIG_FILE``) has ``admin``, the testbed's
  admin, and ``reaper-admin``, the service user install.md creates;
* the environment sets two options that the docs leave at their defaults,
  so that the documented controller shares the testbed with other tests:
  ``[listener] pool`` (its own queue) and ``[api] port = 0`` (any free port).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import secrets
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml  # type: ignore[import-untyped]

from reaper import config
from reaper.model import IdentityKind, IdentityRef, TombstoneState
from reaper.store import Store
from tests import docsnippets
from tests.docsnippets import Block, commands, without_comment
from tests.functional.controller_fixtures import Bus
from tests.functional.docs_shell import Expect, Shell
from tests.functional.reaping import TenantFarm, admin_auth
from tests.testbed.notifications import listening
from tests.testbed.tenant import Tenant, TenantSpec, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.functional.store_fixtures import PgDatabases
    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

#: Pages in the order a new operator follows them; pages not listed run after these.
ORDER = ["doc/install.md", "README.md", "doc/operations.md", "doc/policies.md"]

#: Every placeholder of the documented commands and files, with what the session puts
#: in its place (a :class:`DocsSession` method, given the page) and why.
SUBSTITUTIONS: dict[str, tuple[str, str]] = {
    "0c5d...": ("deleted_project", "a project deleted in Keystone, its resources still there"),
    "<project id>": ("deleted_project", "the same"),
    "<tombstone id>": ("held_tombstone", "the tombstone of a plan the controller holds"),
    "<identity id>": ("held_identity", "the project whose plan that is"),
    "/etc/reaper/": ("etc_reaper", "a folder of the session's (never the machine's /etc)"),
    "/var/lib/reaper": ("var_lib_reaper", "a folder of the session's"),
    "rabbit://user:pass@rabbit:5672/": ("transport_url", "the testbed's RabbitMQ vhost"),
    "postgresql+psycopg2://reaper:secret@db/reaper": (
        "database_url",
        "a new database on the machine's PostgreSQL",
    ),
    "--password-prompt reaper": (
        "password_prompt_user",
        "the service user gets a name of its own: other tests share the testbed's Keystone",
    ),
    "--user reaper admin": ("role_user", "the same user"),
    "<new password>": ("new_password", "what the operator types at the password prompt"),
}

#: What a command needs beyond "exits 0", by the command as documented (comment left out).
EXPECT: dict[str, Expect] = {
    "pip install .": Expect(
        in_checkout=True,
        once=True,
        why="from the checkout, as the pages say; README.md and install.md both show it",
    ),
    "openstack user create --domain Default --password-prompt reaper": Expect(
        dialog=(("User Password:", "<new password>"), ("Repeat User Password:", "<new password>")),
        env={"OS_CLOUD": "admin"},
        why="the operator's own admin cloud, and a password typed twice",
    ),
    "openstack role add --project service --user reaper admin": Expect(
        env={"OS_CLOUD": "admin"}, why="the operator's own admin cloud"
    ),
    "reaper apply plan.json": Expect(
        dialog=(("to confirm:", "<project id>"),), why="the operator types the project id"
    ),
    "reaper-controller --config-file /etc/reaper/reaper.conf": Expect(
        serves="controller started", why="a service: it runs until the session ends"
    ),
}

#: What each page's deleted project and held plan are made of (small, quick to clean).
DELETED_SPEC = TenantSpec(
    servers=1, volumes=1, attached_volumes=0, snapshots=0, images=0, keypairs=0, ports=0
)
HELD_SPEC = TenantSpec(
    servers=0,
    volumes=0,
    attached_volumes=0,
    snapshots=0,
    floating_ips=0,
    images=0,
    keypairs=0,
    security_groups=0,
)
#: Seconds the controller may take to hold a plan, and to finish an approved one.
HELD_WITHIN = 120.0
DONE_WITHIN = 240.0

_PLACEHOLDER = re.compile(r"<[^<>\n]+>|\b\w+\.\.\.")


def _key(command: str) -> str:
    return " ".join(without_comment(command).split())


def _page_order(block: Block) -> tuple[int, str, int]:
    rank = ORDER.index(block.path) if block.path in ORDER else len(ORDER)
    return rank, block.path, block.line


BLOCKS = docsnippets.blocks()
SH_BLOCKS = sorted((b for b in BLOCKS if b.lang == "sh" and not b.exempt), key=_page_order)
FILE_BLOCKS = [b for b in BLOCKS if b.file and not b.exempt]
#: Commands of another helper's area that fail today: block location -> reason (xfail strict).
KNOWN_BROKEN: dict[str, str] = {}


def _needs(page: str, *placeholders: str) -> bool:
    return any(
        p in without_comment(c)
        for b in SH_BLOCKS
        if b.path == page
        for c in commands(b.text)
        for p in placeholders
    )


def _tenant_key(page: str, role: str) -> str:
    return f"docs-{Path(page).stem.lower()}-{role}"


#: The tenants the pages need, built by the session's farm with every module's.
TENANTS = {
    **{
        _tenant_key(b.path, "deleted"): DELETED_SPEC
        for b in SH_BLOCKS
        if _needs(b.path, "0c5d...", "<project id>")
    },
    **{
        _tenant_key(b.path, "held"): HELD_SPEC
        for b in SH_BLOCKS
        if _needs(b.path, "<tombstone id>", "<identity id>", "notification.json")
    },
}


# -- the offline part: what the session would need ----------------------------------------


def test_every_placeholder_of_the_commands_has_a_substitution() -> None:
    texts = [(b.where, without_comment(c)) for b in SH_BLOCKS for c in commands(b.text)]
    texts += [(b.where, line) for b in FILE_BLOCKS for line in b.text.splitlines()]
    for where, text in texts:
        for placeholder in _PLACEHOLDER.findall(text):
            assert placeholder in SUBSTITUTIONS, (
                f"{where}: {placeholder!r} in {text!r} is not in SUBSTITUTIONS: say what the "
                "session puts there (see doc/README.md)"
            )


def test_every_expectation_is_of_a_documented_command() -> None:
    documented = {_key(c) for b in SH_BLOCKS for c in commands(b.text)}
    for command in EXPECT:
        assert command in documented, f"EXPECT names {command!r}, which no page documents"
    used = {key for key in SUBSTITUTIONS if any(key in b.text for b in SH_BLOCKS + FILE_BLOCKS)}
    answers = {a for e in EXPECT.values() for _prompt, a in e.dialog}
    assert set(SUBSTITUTIONS) == used | answers, "SUBSTITUTIONS has entries nothing uses"


# -- the session ------------------------------------------------------------------------------


@dataclasses.dataclass
class Held:
    tenant: Tenant
    deleted: bool = False
    tombstone_id: str | None = None


class DocsSession:
    """What the documented commands run in: folders, environment, tenants, the testbed."""

    def __init__(
        self,
        root: Path,
        testbed: Testbed,
        admin: Connection,
        farm: TenantFarm,
        database_url: str,
    ) -> None:
        self.root = root
        self.testbed = testbed
        self.admin = admin
        self.farm = farm
        self.database = database_url
        self.pool = f"reaper-docs-{secrets.token_hex(4)}"
        self.service_user = f"reaper-docs-{secrets.token_hex(3)}"
        self.service_password = secrets.token_urlsafe(12)
        self.checkout = docsnippets.ROOT
        self.shells: dict[str, Shell] = {}
        self.held: dict[str, Held] = {}
        self.deleted: dict[str, Tenant] = {}
        #: Commands that ran (and did what they should), as documented.
        self.ran: set[str] = set()
        self.env = self._environment()

    # the host --------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        venv = self.root / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        site = next((venv / "lib").glob("python*/site-packages"))
        # reaper's dependencies are already installed in the tests' environment.
        (site / "_reaper_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"])
        home = self.root / "home"
        (home / ".reaper").mkdir(parents=True)
        (home / ".reaper" / "reaper.conf").symlink_to(self.root / "etc" / "reaper" / "reaper.conf")
        (self.root / "etc" / "reaper").mkdir(parents=True)
        auth = admin_auth(self.testbed)
        clouds = {
            "admin": {"auth": auth, "region_name": self.testbed.region},
            "reaper-admin": {
                "auth": {
                    "auth_url": auth["auth_url"],
                    "username": self.service_user,
                    "password": self.service_password,
                    "project_name": "service",
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "region_name": self.testbed.region,
            },
        }
        clouds_yaml = self.root / "clouds.yaml"
        clouds_yaml.write_text(yaml.safe_dump({"clouds": clouds}))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "REAPER_"))}
        path = [str(venv / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")]
        env.update(
            PATH=os.pathsep.join(path),
            HOME=str(home),
            OS_CLIENT_CONFIG_FILE=str(clouds_yaml),
            OS_LISTENER__POOL=self.pool,
            OS_API__PORT="0",
        )
        env.pop("VIRTUAL_ENV", None)
        env.pop("XDG_STATE_HOME", None)
        return env

    def shell(self, page: str) -> Shell:
        if page not in self.shells:
            self.shells[page] = Shell(
                self.root / "pages" / Path(page).stem.lower(), self.env, self.checkout
            )
            self._write_files(self.shells[page])
        return self.shells[page]

    def _write_files(self, shell: Shell) -> None:
        """The files the pages show as the user's, where the commands look for them."""
        for block in FILE_BLOCKS:
            assert block.file is not None
            text = self.substitute(block.path, block.text)
            target = Path(self.substitute(block.path, block.file))
            if not target.is_absolute():
                target = shell.cwd / target
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def conf_file(self) -> Path:
        return self.root / "etc" / "reaper" / "reaper.conf"

    # substitutions ---------------------------------------------------------------------

    def substitute(self, page: str, text: str) -> str:
        for placeholder, (name, _why) in SUBSTITUTIONS.items():
            if placeholder in text:
                resolve: Callable[[str], str] = getattr(self, name)
                text = text.replace(placeholder, resolve(page))
        return text

    def deleted_project(self, page: str) -> str:
        if page not in self.deleted:
            tenant = self.farm.order(_tenant_key(page, "deleted")).result()
            delete_identity(self.admin, tenant)
            self.deleted[page] = tenant
        return self.deleted[page].project_id

    def held_tombstone(self, page: str) -> str:
        held = self._held(page)
        if held.tombstone_id is None:
            held.tombstone_id = self._wait_held(held.tenant.project_id)
        return held.tombstone_id

    def held_identity(self, page: str) -> str:
        self.held_tombstone(page)
        return self._held(page).tenant.project_id

    def etc_reaper(self, _page: str) -> str:
        return f"{self.root}/etc/reaper/"

    def var_lib_reaper(self, _page: str) -> str:
        return f"{self.root}/var/lib/reaper"

    def transport_url(self, _page: str) -> str:
        return self.testbed.transport_url

    def database_url(self, _page: str) -> str:
        return self.database

    def password_prompt_user(self, _page: str) -> str:
        return f"--password-prompt {self.service_user}"

    def role_user(self, _page: str) -> str:
        return f"--user {self.service_user} admin"

    def new_password(self, _page: str) -> str:
        return self.service_password

    # tenants ---------------------------------------------------------------------------

    def _held(self, page: str) -> Held:
        if page not in self.held:
            tenant = self.farm.order(_tenant_key(page, "held")).result()
            self.held[page] = Held(tenant)
        held = self.held[page]
        if not held.deleted:
            # The controller, listening since README.md started it, hears this deletion.
            delete_identity(self.admin, held.tenant)
            held.deleted = True
        return held

    def prepare(self, page: str, command: str, shell: Shell) -> None:
        """Files a command names that the user has but the pages do not show."""
        saved = shell.cwd / "notification.json"
        if "notification.json" in without_comment(command) and not saved.exists():
            if page not in self.held:
                self.held[page] = Held(self.farm.order(_tenant_key(page, "held")).result())
            held = self.held[page]
            assert not held.deleted
            with listening(self.testbed.transport_url) as heard:
                delete_identity(self.admin, held.tenant)
                held.deleted = True
                notification = heard.wait_for(
                    "identity.project.deleted",
                    lambda n: n["payload"].get("resource_info") == held.tenant.project_id,
                )
            saved.write_text(json.dumps(notification, indent=2))

    def store(self) -> Store:
        return Store.from_conf(config.make_conf(["--config-file", str(self.conf_file())]))

    def _wait_held(self, project_id: str) -> str:
        identity = IdentityRef(IdentityKind.PROJECT, project_id)
        deadline = time.monotonic() + HELD_WITHIN
        with self.store() as store:
            while time.monotonic() < deadline:
                found = store.tombstones.find(identity)
                if found is not None and found.state is TombstoneState.HELD:
                    return found.id
                time.sleep(1)
        raise AssertionError(f"the controller held no plan for {identity} in {HELD_WITHIN:.0f}s")

    def states(self) -> dict[str, str]:
        """Each held page's tombstone state now."""
        with self.store() as store:
            return {
                page: store.tombstones.get(h.tombstone_id).state.value
                for page, h in self.held.items()
                if h.tombstone_id
            }

    def close(self) -> None:
        for shell in self.shells.values():
            shell.stop_services()
        user = self.admin.identity.find_user(self.service_user, domain_id="default")
        if user is not None:
            self.admin.identity.delete_user(user.id, ignore_missing=True)
        with contextlib.suppress(Exception):  # never declared: nothing to delete
            Bus(self.testbed.transport_url).delete_queue(self.pool)


@pytest.fixture(scope="module")
def docs_session(
    tmp_path_factory: pytest.TempPathFactory,
    testbed: Testbed,
    testbed_admin: Connection,
    tenant_farm: TenantFarm,
    pg_databases: PgDatabases,
) -> Iterator[DocsSession]:
    session = DocsSession(
        tmp_path_factory.mktemp("docs"),
        testbed,
        testbed_admin,
        tenant_farm,
        pg_databases.url(pg_databases.create()),
    )
    try:
        yield session
    finally:
        session.close()


def _param(block: Block) -> Any:
    marks = []
    if block.where in KNOWN_BROKEN:
        marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BROKEN[block.where]))
    return pytest.param(block, id=block.where, marks=marks)


@pytest.mark.parametrize("block", [_param(b) for b in SH_BLOCKS])
def test_documented_commands_run_as_written(block: Block, docs_session: DocsSession) -> None:
    shell = docs_session.shell(block.path)
    for command in commands(block.text):
        expect = EXPECT.get(_key(command), Expect())
        if expect.once and _key(command) in docs_session.ran:
            print(f"$ {command}\n(ran on an earlier page)")
            continue
        docs_session.prepare(block.path, command, shell)
        run_as = docs_session.substitute(block.path, command)
        dialog = tuple((p, docs_session.substitute(block.path, a)) for p, a in expect.dialog)
        ran = shell.run(run_as, dataclasses.replace(expect, dialog=dialog))
        print(ran)
        assert ran.status == expect.status, f"{block.where}: {command}\n{ran}"
        docs_session.ran.add(_key(command))


def test_what_the_docs_approved_is_done_and_the_controller_stops_on_sigterm(
    docs_session: DocsSession,
) -> None:
    """``reaper approve``: "the controller then runs that plan"; SIGTERM: "exits 0"."""
    approved = docs_session.states()
    assert approved, "the pages approved no held plan"
    deadline = time.monotonic() + DONE_WITHIN
    while time.monotonic() < deadline and set(approved.values()) != {"complete"}:
        time.sleep(2)
        approved = docs_session.states()
    assert set(approved.values()) == {"complete"}, approved
    for held in docs_session.held.values():
        docs_session.farm.reaped(held.tenant)
    services = [s for shell in docs_session.shells.values() for s in shell.services]
    assert services, "the pages started no controller"
    for service in services:
        assert service.stop() == 0, service.output()[-3000:]

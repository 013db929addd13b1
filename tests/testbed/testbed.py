"""The Python API: ``Testbed.up()``, ``Testbed.attach(run_dir)``, ``.down()``.

This module and everything it imports use only the standard library, so any Python can
drive a testbed (reaper's venv, a bare ``python3``, CI): the services themselves run from
their own venv in subprocesses. Only ``connect()`` needs openstacksdk, imported when called.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import lifecycle, processes, services, starting
from .lifecycle import Progress
from .state import RunState

if TYPE_CHECKING:
    from openstack.connection import Connection


class Testbed:
    """A running testbed: real keystone, nova, cinder, neutron, glance and placement,
    and, when asked, swift, octavia and designate."""

    #: Not a test class, although its name starts with "Test".
    __test__ = False

    def __init__(self, state: RunState, owned: bool) -> None:
        self._state = state
        #: True if this object brought the run up (and so should bring it down).
        self.owned = owned

    @classmethod
    def up(
        cls,
        run_id: str | None = None,
        notification_format: str = "basic",
        keep_on_failure: bool = False,
        progress: Progress | None = None,
        extra_services: Iterable[str] = (),
    ) -> Testbed:
        """Start a new run; raises (after cleaning up) if any part of it fails.

        ``extra_services`` (``swift``, ``octavia``, ``designate``) start with it; by
        default only the core services do (see :meth:`start_services`).
        """
        kwargs: dict[str, Any] = {"progress": progress} if progress else {}
        state = lifecycle.up(
            run_id, notification_format, keep_on_failure, extra_services=extra_services, **kwargs
        )
        return cls(state, owned=True)

    @classmethod
    def attach(cls, run_dir: str | Path) -> Testbed:
        """Use a run that is already up (e.g. started with ``python -m tests.testbed up``)."""
        state = RunState.load(Path(run_dir))
        if state.status != "running":
            raise RuntimeError(f"testbed in {run_dir} is {state.status!r}, not running")
        return cls(state, owned=False)

    def start_services(self, names: Iterable[str], progress: Progress | None = None) -> None:
        """Start optional services (``swift``, ``octavia``, ``designate``) into this run.

        Those already running are left as they are, whoever started them, so any number
        of test modules may each ask for what they need.
        """
        kwargs: dict[str, Any] = {"progress": progress} if progress else {}
        self._state = starting.start_extras(self.run_dir, names, **kwargs)

    @property
    def services(self) -> list[str]:
        """The optional services running in this run (read afresh: others may start some)."""
        return list(RunState.load(self.run_dir).services)

    def down(self, keep_logs: bool = False) -> None:
        """Stop everything, drop the databases and the vhost, remove the run directory."""
        lifecycle.down(self.run_dir, keep_logs=keep_logs)

    @property
    def state(self) -> RunState:
        return self._state

    @property
    def run_id(self) -> str:
        return self._state.run_id

    @property
    def run_dir(self) -> Path:
        return Path(self._state.run_dir)

    @property
    def clouds_yaml(self) -> Path:
        return Path(self._state.clouds_yaml)

    @property
    def cloud_name(self) -> str:
        return self._state.cloud_name

    @property
    def region(self) -> str:
        return self._state.region

    @property
    def transport_url(self) -> str:
        """oslo.messaging URL of the run's own vhost, where keystone publishes."""
        return self._state.transport_url

    @property
    def keystone_url(self) -> str:
        """Keystone's identity v3 URL (``http://127.0.0.1:<port>/v3``)."""
        return self._state.keystone_url

    @property
    def notification_format(self) -> str:
        return self._state.notification_format

    @property
    def resources(self) -> dict[str, Any]:
        """Ids of the cloud-wide resources: flavors, image, external network, volume type."""
        return self._state.resources

    def set_notification_format(self, notification_format: str) -> None:
        """Restart keystone so that it publishes ``basic`` or ``cadf`` notifications."""
        if notification_format != self._state.notification_format:
            lifecycle.set_notification_format(self._state, notification_format)

    def connect(self, **kwargs: Any) -> Connection:
        """An admin openstacksdk connection (project-scoped ``admin``, sees all projects)."""
        import openstack.config
        from openstack.connection import Connection

        config = openstack.config.OpenStackConfig(config_files=[str(self.clouds_yaml)])
        region = config.get_one(cloud=self.cloud_name, **kwargs)
        return Connection(config=region)

    def status(self) -> dict[str, Any]:
        """Liveness of every process and API of the run."""
        alive = {name: processes.is_alive(pid) and processes.belongs_to(pid, self._state.owner)
                 for name, pid in self._state.pids.items()}  # fmt: skip
        answering = {
            name: processes.answers(services.api_url(self._state, name, api.health_path))
            for name, api in services.apis(self._state).items()
        }
        return {"status": self._state.status, "processes": alive, "apis": answering}

    def leftovers(self) -> dict[str, list[str]]:
        """Processes, databases and vhost of this run still on the machine (empty once down)."""
        return lifecycle.leftovers(self._state)

    def __repr__(self) -> str:
        return f"<Testbed {self.run_id} {self.run_dir} {self._state.status}>"

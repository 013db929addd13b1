"""The controller's full scan, in a process of its own: intake never waits for it.

The full scan reads every resource of the cloud (1M resources: ~26 CPU
seconds, each 1,000-item page decoded in one call that holds the GIL).
Run in the controller's own process, the listener's and the workers'
threads would queue behind it for the whole scan. :class:`ChildScan` runs
:func:`reaper.cleanup.census.owners` in a child started with ``spawn`` (no
inherited threads, locks or sockets), which makes its own read-only
connection from the controller's configuration files and credentials and
sends back only the :class:`~reaper.cleanup.census.Census`. Its memory is
given back to the system when it exits.

Invariants:

* the child is read-only by construction: its connection is
  :func:`reaper.cloud.connect` with ``read_only=True``;
* a child that fails, dies or is killed yields a census with *every*
  listing incomplete: the scan does not count as done (the next sweep scans
  in full again) and nothing is concluded from what was not read;
* a controller that stops terminates the child and waits for it: no scan
  outlives its controller.

``reaper sweep --full`` (the CLI) is one process already and scans in it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
import os
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from reaper import log
from reaper.cleanup.census import RESOURCES, Census

LOG = log.get(__name__)

#: Seconds between two looks at the child and at the controller's stop event.
POLL = 0.5
#: Seconds a terminated child gets before it is killed.
TERMINATE_GRACE = 5.0


@dataclasses.dataclass(frozen=True)
class ScanOrder:
    """What the child needs: where the configuration is, whose cloud, and what to count."""

    #: ``--config-file``/``--config-dir`` arguments that rebuild the controller's configuration.
    argv: tuple[str, ...]
    os_cloud: str | None
    projects: frozenset[str]
    users: frozenset[str]
    cutoff: dt.datetime
    #: A changed scan's start (``census.owners``' ``since``); ``None``: a full scan.
    since: dt.datetime | None = None


def config_argv(conf: Any) -> tuple[str, ...]:
    """The arguments that make the same configuration in another process."""
    argv: list[str] = []
    for path in conf.config_file or ():
        argv += ["--config-file", path]
    for path in conf.config_dir or ():
        argv += ["--config-dir", path]
    return tuple(argv)


def all_incomplete(why: str) -> Census:
    """A census that read nothing: every listing is named incomplete."""
    LOG.warning("full scan failed: the next sweep scans in full again", error=why)
    return Census({}, tuple(listing.name for listing, *_ in RESOURCES))


class ChildScan:
    """``census.owners`` in a child process; see the module's invariants."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        os_cloud: str | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self.argv = tuple(argv)
        self.os_cloud = os_cloud
        self.stopping = stopping or threading.Event()
        self._ctx = multiprocessing.get_context("spawn")

    @classmethod
    def of(
        cls, conf: Any, *, os_cloud: str | None = None, stopping: threading.Event | None = None
    ) -> ChildScan:
        return cls(config_argv(conf), os_cloud=os_cloud, stopping=stopping)

    def __call__(
        self,
        *,
        projects: frozenset[str],
        users: frozenset[str],
        cutoff: dt.datetime,
        since: dt.datetime | None = None,
    ) -> Census:
        order = ScanOrder(self.argv, self.os_cloud, projects, users, cutoff, since)
        reader, writer = self._ctx.Pipe(duplex=False)
        child = self._ctx.Process(
            target=_child_main, args=(order, writer), name="reaper-full-scan", daemon=True
        )
        child.start()
        writer.close()  # the child's end: a child that dies leaves the pipe at EOF
        LOG.info(
            "resource scan started in a process of its own",
            pid=child.pid,
            changed_since=since.isoformat() if since else None,
        )
        try:
            return self._answer(child, reader)
        finally:
            reader.close()
            _end(child, patient=not self.stopping.is_set())

    def _answer(self, child: Any, reader: Connection) -> Census:
        while not reader.poll(POLL):
            if self.stopping.is_set():
                return all_incomplete("the controller is stopping")
            if not child.is_alive() and not reader.poll(0):
                return all_incomplete(f"the scan's process ended with code {child.exitcode}")
        try:
            kind, value = reader.recv()
        except (EOFError, OSError) as exc:
            return all_incomplete(f"the scan's process ended with code {child.exitcode}: {exc}")
        if kind != "census":
            return all_incomplete(str(value))
        return value  # type: ignore[no-any-return]


def _end(child: Any, *, patient: bool) -> None:
    """The child is gone when this returns: given time to exit, then terminated, then killed."""
    child.join(TERMINATE_GRACE if patient else 0)
    if child.is_alive():
        child.terminate()
        child.join(TERMINATE_GRACE)
    if child.is_alive():
        child.kill()
        child.join()


def _child_main(order: ScanOrder, writer: Connection) -> None:
    """In the child: the controller's configuration, a read-only connection, the count."""
    try:
        from reaper import cloud, config, credentials
        from reaper.cleanup import census

        conf = config.make_conf(list(order.argv), prog="reaper-controller")
        log.setup(debug=conf.debug)
        source = credentials.resolve(conf, os_cloud=order.os_cloud, environ=os.environ)
        conn = cloud.connect(conf, read_only=True, source=source)
        found = census.owners(
            conn,
            projects=order.projects,
            users=order.users,
            cutoff=order.cutoff,
            since=order.since,
        )
        writer.send(("census", found))
    except BaseException as exc:  # everything goes back as "incomplete", never lost
        writer.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        writer.close()

"""Starting, watching and stopping the services' processes.

Each service runs in its own session (so its process group holds the gunicorn master and
workers, or a nova service and its children) with stdout and stderr appended to its log
file in the run directory, and with ``REAPER_TESTBED_RUN_ID`` in its environment. That
variable is how ``down`` recognises a run's processes even when the pid file is stale, the
group leader died first, or the process was started by another shell: a pid is never
signalled unless ``/proc/<pid>/environ`` carries the run's id.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .layout import RunLayout

RUN_ID_ENV = "REAPER_TESTBED_RUN_ID"

# Popen objects of the processes this Python process started, so that stopping them also
# reaps them (a zombie child would otherwise linger until this process exits).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class StepFailed(RuntimeError):
    """A setup command or a service failed; the message carries the tail of its log."""


@dataclass(frozen=True)
class Command:
    """A command of the testbed: a one-shot setup step or a long-running service."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    def niced(self, level: int = 10) -> Command:
        """The same command at a lower CPU priority (for work off the critical path)."""
        return replace(self, argv=["nice", "-n", str(level), *self.argv])


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file, or a note that it does not exist."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _environment(command: Command, run_id: str) -> dict[str, str]:
    env = dict(os.environ)
    # The orchestrating Python may be reaper's venv; nothing of it may leak into the services.
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "OS_CLOUD", "OS_CLIENT_CONFIG_FILE"):
        env.pop(name, None)
    env.update(command.env)
    env[RUN_ID_ENV] = run_id
    # gunicorn and oslo.service set process titles with setproctitle, which by default
    # overwrites /proc/<pid>/environ, and with it the run id that ``stop`` looks for.
    env["SPT_NOENV"] = "1"
    return env


def run_step(command: Command, layout: RunLayout, run_id: str, timeout: float = 300) -> str:
    """Run a setup command to completion, its output appended to its log; return the output."""
    log = layout.log_file(command.name)
    start = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(command.argv)}\n".encode())
        out.flush()
        try:
            result = subprocess.run(
                command.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_environment(command, run_id),
                cwd=command.cwd,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise StepFailed(f"{command.name} timed out after {timeout}s:\n{tail(log)}") from exc
    if result.returncode != 0:
        raise StepFailed(f"{command.name} exited with {result.returncode}:\n{tail(log)}")
    with open(log, "rb") as handle:
        handle.seek(start)
        return handle.read().decode(errors="replace")


def spawn(command: Command, layout: RunLayout, run_id: str) -> int:
    """Start a long-running service in its own session; return its pid (= its pgid)."""
    log = layout.log_file(command.name)
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(command.argv)}\n".encode())
        out.flush()
        process = subprocess.Popen(
            command.argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_environment(command, run_id),
            cwd=command.cwd,
            start_new_session=True,
        )
    _CHILDREN[process.pid] = process
    layout.pid_file(command.name).write_text(f"{process.pid}\n")
    return process.pid


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, pgid) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[2])


def is_alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


@dataclass(frozen=True)
class Owner:
    """How to recognise a run's processes."""

    run_id: str
    #: Processes working inside these directories belong to the run too. PostgreSQL's
    #: children replace their environment with their process titles and start sessions of
    #: their own, so neither the run id nor the process group finds them; they all work in
    #: the data directory.
    dirs: tuple[Path, ...] = ()


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd").removesuffix(" (deleted)")
    except OSError:
        return ""


def belongs_to(pid: int, owner: Owner) -> bool:
    """True if the process carries the run's id in its environment or works in its dirs."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    if f"{RUN_ID_ENV}={owner.run_id}".encode() in environ.split(b"\0"):
        return True
    if owner.dirs:
        cwd = _cwd(pid)
        return any(cwd == str(d) or cwd.startswith(f"{d}/") for d in owner.dirs)
    return False


def run_processes(owner: Owner) -> list[int]:
    """Every live process on the machine that belongs to the run."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            pid = int(entry.name)
            if pid != os.getpid() and belongs_to(pid, owner) and is_alive(pid):
                found.append(pid)
    return found


def _signal(leaders: Iterable[int], pids: Iterable[int], sig: signal.Signals) -> None:
    """Signal the groups of ``leaders`` (each started its own session) and each of ``pids``."""
    for pid in leaders:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop(owner: Owner, pids: Iterable[int], grace: float = 5.0) -> list[int]:
    """Stop the run's processes: SIGTERM to their groups, wait, then SIGKILL what is left.

    ``pids`` are the group leaders the run recorded; the environment scan finds everything
    else (workers whose master died, a process whose pid file was never written). Returns
    the pids still alive at the end, which is empty unless something ignores SIGKILL.
    """
    leaders = [pid for pid in pids if belongs_to(pid, owner)]
    _signal(leaders, run_processes(owner), signal.SIGTERM)
    for sig, wait in ((signal.SIGKILL, grace), (None, 5.0)):
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap()
            if not run_processes(owner):
                return []
            time.sleep(0.2)
        if sig is not None:
            _signal([p for p in leaders if belongs_to(p, owner)], run_processes(owner), sig)
    _reap()
    return run_processes(owner)


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == pgid and stat[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def stop_group(owner: Owner, pid: int, grace: float = 5.0) -> None:
    """Stop one service (its whole process group), e.g. to restart it with a new config."""
    if not belongs_to(pid, owner):
        return
    _signal([pid], [], signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _group_members(pid) and time.monotonic() < deadline:
        _reap()
        time.sleep(0.2)
    if _group_members(pid):
        _signal([pid], [], signal.SIGKILL)
        while _group_members(pid) and time.monotonic() < deadline + 5:
            time.sleep(0.2)
    _reap()


def _reap() -> None:
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            del _CHILDREN[pid]


def listening(port: int) -> bool:
    """True if something accepts connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def answers(url: str) -> bool:
    """True if ``url`` answers with a status below 500 (an API that is up, even if it says 401)."""
    if not url.startswith("http://"):
        raise ValueError(f"not an http URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - http only, checked above
            return True
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def wait_http(url: str, timeout: float, alive: Callable[[], bool], name: str) -> None:
    """Poll ``url`` until it answers; fail early if the service's process died."""
    deadline = time.monotonic() + timeout
    while not answers(url):
        if not alive():
            raise StepFailed(f"{name} died before answering on {url}")
        if time.monotonic() > deadline:
            raise StepFailed(f"{name} did not answer on {url} within {timeout:.0f}s")
        time.sleep(0.5)

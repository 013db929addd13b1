"""A terminal for the documented commands: bash, one command at a time, as a user types them.

Each command of a document runs in a fresh ``bash -c`` that first restores
what the commands before it left behind (their exports and working
directory), so ``export OS_CLOUD=admin`` on one line holds for the next, as
in one terminal. A command that asks something (a password, the id to
confirm a cleanup) runs on a pseudo-terminal, with its stdin, stdout, stderr
and controlling terminal all on it, and each answer is typed once its prompt
has appeared. A command that serves (``reaper-controller``) runs in the
background until the document's session ends, and counts as started once
a given line appears in its output.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import select
import shlex
import signal
import subprocess
import termios
import time
from collections.abc import Mapping
from pathlib import Path

#: Seconds a command may take; apply waits for real deletions.
COMMAND_TIMEOUT = 300.0


@dataclasses.dataclass(frozen=True)
class Expect:
    """What a documented command needs beyond "runs and exits 0"."""

    #: The exit status the document promises.
    status: int = 0
    #: (prompt, answer) pairs: the command runs on a terminal, and each answer is
    #: typed (with Enter) once its prompt has appeared.
    dialog: tuple[tuple[str, str], ...] = ()
    #: The command is a service: it runs in the background, started once this
    #: text appears in its output, and is stopped with SIGTERM at the end.
    serves: str | None = None
    #: Run from the repository's checkout (``pip install .``), not the document's folder.
    in_checkout: bool = False
    #: The same command on a later page is not run again (it was, on an earlier one).
    once: bool = False
    #: Environment the user has for this command only (their own admin cloud for ``openstack``).
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Why the command needs this, said where the table is read.
    why: str = ""


@dataclasses.dataclass(frozen=True)
class Ran:
    command: str
    status: int
    output: str
    seconds: float = 0.0

    def __str__(self) -> str:
        tail = "\n".join(self.output.splitlines()[-40:])
        return f"$ {self.command}\n(exit {self.status} after {self.seconds:.1f}s)\n{tail}"


@dataclasses.dataclass
class Service:
    command: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, as systemd stops it; the exit status (-9 if it had to be killed)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return -9
        return self.process.returncode


class Shell:
    """One document's terminal: a working directory and what its commands exported."""

    def __init__(self, cwd: Path, env: Mapping[str, str], checkout: Path) -> None:
        self.cwd = cwd
        self.env = dict(env)
        self.checkout = checkout
        cwd.mkdir(parents=True, exist_ok=True)
        self._state = cwd.parent / f".{cwd.name}.exports"
        self._state.write_text("")
        self.services: list[Service] = []

    def _script(self, command: str, *, cwd: Path, exec_: bool = False) -> str:
        restore = f"source {shlex.quote(str(self._state))}\ncd {shlex.quote(str(cwd))}\n"
        if exec_:
            return restore + "exec " + command + "\n"
        save = f"export -p > {shlex.quote(str(self._state))}"
        return f"{restore}{command}\n__status=$?\n{save}\nexit $__status\n"

    def _environ(self, expect: Expect) -> dict[str, str]:
        return {**self.env, **expect.env}

    def run(self, command: str, expect: Expect, timeout: float = COMMAND_TIMEOUT) -> Ran:
        started = time.monotonic()
        ran = self._run(command, expect, timeout)
        return dataclasses.replace(ran, seconds=time.monotonic() - started)

    def _run(self, command: str, expect: Expect, timeout: float) -> Ran:
        cwd = self.checkout if expect.in_checkout else self.cwd
        if expect.serves:
            return self._serve(command, expect, cwd, timeout)
        script = self._script(command, cwd=cwd)
        if expect.dialog:
            status, output = _on_terminal(script, self._environ(expect), expect.dialog, timeout)
            return Ran(command, status, output)
        try:
            done = subprocess.run(
                ["bash", "-c", script],
                env=self._environ(expect),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            output = (exc.stdout or b"").decode(errors="replace")
            return Ran(command, -1, f"{output}\n(no exit after {timeout:.0f}s)")
        return Ran(command, done.returncode, done.stdout.decode(errors="replace"))

    def _serve(self, command: str, expect: Expect, cwd: Path, timeout: float) -> Ran:
        assert expect.serves is not None
        log = self.cwd.parent / f"{self.cwd.name}-service-{len(self.services) + 1}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", self._script(command, cwd=cwd, exec_=True)],
                env=self._environ(expect),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(command, process, log)
        self.services.append(service)
        deadline = time.monotonic() + timeout
        while expect.serves not in service.output():
            if process.poll() is not None:
                status = process.returncode or -1
                return Ran(
                    command, status, f"{service.output()}\n(exited before {expect.serves!r})"
                )
            if time.monotonic() > deadline:
                return Ran(command, -1, f"{service.output()}\n(no {expect.serves!r} yet)")
            time.sleep(0.5)
        return Ran(command, 0, service.output())

    def stop_services(self) -> list[tuple[Service, int]]:
        return [(s, s.stop()) for s in self.services]


def _on_terminal(
    script: str, env: Mapping[str, str], dialog: tuple[tuple[str, str], ...], timeout: float
) -> tuple[int, str]:
    """Run ``script`` with a pseudo-terminal as its terminal; type each answer after its prompt."""
    master, slave = os.openpty()

    def take_terminal() -> None:  # in the child, after setsid: the pty becomes /dev/tty
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    try:
        process = subprocess.Popen(
            ["bash", "-c", script],
            env=dict(env),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=take_terminal,
        )
    finally:
        os.close(slave)
    output = b""
    pending = list(dialog)
    seen_up_to = 0
    deadline = time.monotonic() + timeout
    try:
        while True:
            if pending and pending[0][0].encode() in output[seen_up_to:]:
                prompt, answer = pending.pop(0)
                seen_up_to = output.index(prompt.encode(), seen_up_to) + len(prompt)
                os.write(master, answer.encode() + b"\n")
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every holder of the terminal has gone
                    chunk = b""
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
            if time.monotonic() > deadline:
                process.kill()
                output += f"\n(no exit after {timeout:.0f}s)".encode()
                break
    finally:
        os.close(master)
    status = process.wait()
    text = output.decode(errors="replace").replace("\r\n", "\n")
    if pending:
        text += f"\n(never asked {pending[0][0]!r})"
        status = status or -1
    return status, text

"""The services' venv: keystone, nova, cinder, neutron, glance and placement from PyPI.

The services never go into reaper's venv: their pins would fight reaper's, and the tests
must talk to them as a client would, over HTTP and AMQP. The venv is built from
``requirements.txt`` plus the ``support`` distribution (the ML2 driver, the WSGI runner),
and cached under ``~/.cache/reaper/testbed-venv-<hash>-<python>``: the hash covers the
requirements and the support sources, so editing either builds a new venv, and a fresh
machine (CI) builds one on its first ``up`` without anything installed by hand.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .layout import PACKAGE_DIR
from .ports import locked

REQUIREMENTS = PACKAGE_DIR / "requirements.txt"
SUPPORT_DIR = PACKAGE_DIR / "support"
_MARKER = ".testbed-venv-complete"
_IGNORED_PARTS = {"__pycache__", "build", "dist"}


def cache_dir() -> Path:
    """Where venvs are cached (``REAPER_TESTBED_CACHE`` overrides ``~/.cache/reaper``)."""
    return Path(os.environ.get("REAPER_TESTBED_CACHE") or Path.home() / ".cache" / "reaper")


def _support_files() -> list[Path]:
    return sorted(
        path
        for path in SUPPORT_DIR.rglob("*")
        if path.is_file()
        and not _IGNORED_PARTS.intersection(path.relative_to(SUPPORT_DIR).parts)
        and not any(part.endswith(".egg-info") for part in path.parts)
    )


def venv_key() -> str:
    """Short hash of what goes into the venv, plus the Python it is built with."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    for path in _support_files():
        digest.update(str(path.relative_to(SUPPORT_DIR)).encode())
        digest.update(path.read_bytes())
    version = sys.version_info
    digest.update(
        f"{sys.implementation.name}-{version.major}.{version.minor}.{version.micro}".encode()
    )
    return f"{digest.hexdigest()[:12]}-py{version.major}{version.minor}"


def venv_path() -> Path:
    return cache_dir() / f"testbed-venv-{venv_key()}"


def is_built(path: Path) -> bool:
    return (path / _MARKER).exists()


def _die_with_parent() -> None:
    """Have the kernel SIGKILL this child if the building Python dies (Linux prctl).

    A pip left running by a killed build would still be writing into the venv when the
    next build takes the lock and starts over in the same directory.
    """
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _run(argv: list[str], log: Path) -> None:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    env.pop("PYTHONPATH", None)
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        result = subprocess.run(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
            # Runs between fork and exec; it only calls prctl, so threads are no concern.
            preexec_fn=_die_with_parent,
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}); see {log}:\n{tail}")


def ensure(progress: bool = True) -> Path:
    """Return the services' venv, building it first if this machine has none for this key.

    Builds take about a minute and a half and happen under a lock, so concurrent runs
    wait for one build instead of racing. A venv whose build did not finish has no marker
    file and is rebuilt from scratch.
    """
    path = venv_path()
    if is_built(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path.parent / f"{path.name}.lock"):
        if is_built(path):
            return path
        started = time.monotonic()
        if progress:
            print(f"testbed: building the services venv {path} (once per machine)", flush=True)
        if path.exists():
            shutil.rmtree(path)
        log = path.parent / f"{path.name}.build.log"
        log.write_text("")
        _run([sys.executable, "-m", "venv", str(path)], log)
        python = str(path / "bin" / "python")
        # pip byte-compiles every module, one at a time, including the thousands of test
        # modules nova, neutron and cinder ship. Compiling everything but tests on all
        # cores afterwards takes ~30% less CPU and much less time. (Not compiling at all
        # is worse: a dozen services then compile the same modules at their first start.)
        _run([python, "-m", "pip", "install", "--no-compile", "-r", str(REQUIREMENTS)], log)
        site_packages = next((path / "lib").glob("python*/site-packages"))
        _run([python, "-m", "compileall", "-q", "-j", "0", "-x", r"[/\\]tests?[/\\]",
              str(site_packages)], log)  # fmt: skip
        # Install from a copy: building in place would leave build/ and *.egg-info in the repo.
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "support"
            shutil.copytree(SUPPORT_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
            _run([python, "-m", "pip", "install", "--no-deps", str(source)], log)
        _run([python, "-m", "pip", "check"], log)
        (path / _MARKER).write_text(venv_key() + "\n")
        if progress:
            print(f"testbed: venv built in {time.monotonic() - started:.0f}s", flush=True)
    return path

"""Progress of long reads (discovery, a sweep's cloud-wide listings), for whoever watches.

The stages say what they finished with :func:`report`; a command that
shows progress installs a watcher with :func:`watched` around its call
(``reaper plan`` prints each service as its listing ends, instead of a
silent minute). Nobody watching (the controller) costs nothing. The watcher
is a context variable of the calling thread: stages report from that thread,
after collecting their parallel work, never from their pool's threads.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

_watcher: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "reaper_progress_watcher", default=None
)


def report(message: str) -> None:
    """Tell the watcher, if any, that ``message`` just happened (one short line)."""
    watcher = _watcher.get()
    if watcher is not None:
        watcher(message)


@contextlib.contextmanager
def watched(watcher: Callable[[str], None] | None) -> Iterator[None]:
    """Send this thread's reports to ``watcher`` (``None``: to nobody) inside the block."""
    token = _watcher.set(watcher)
    try:
        yield
    finally:
        _watcher.reset(token)

"""Serve an OpenStack WSGI application object with gunicorn.

keystone, nova-api, placement, glance, cinder-api and neutron-server ship WSGI application
objects (``keystone.wsgi.api:application`` and so on) and, in these releases, no console
script that serves them. Two things stop plain ``gunicorn module:app`` from working:

- each application parses ``sys.argv`` with oslo.config when it is imported, and under
  gunicorn that is gunicorn's own command line, so the worker dies and respawns forever;
- gunicorn 27 opens a control socket at a fixed per-user path, shared by every instance.

So this runner sets ``sys.argv`` to the application's own arguments (whatever follows
``--``) just before the worker imports the application, and disables the control socket.
It also turns keep-alive off and lifts the request-line limit (see ``main``).

Usage::

    python -m reaper_testbed_support.serve --bind 127.0.0.1:5000 --name keystone \\
        keystone.wsgi.api:application -- --config-file /path/keystone.conf
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from gunicorn.app.base import BaseApplication


class _Application(BaseApplication):  # type: ignore[misc]
    """A gunicorn application whose settings come from a dict instead of the command line."""

    def __init__(self, target: str, options: dict[str, Any], app_argv: list[str]) -> None:
        self._target = target
        self._options = options
        self._app_argv = app_argv
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        sys.argv = list(self._app_argv)
        module_name, _, attribute = self._target.partition(":")
        module = importlib.import_module(module_name)
        return getattr(module, attribute or "application")


def main(argv: list[str]) -> int:
    own, app_args = argv, []
    if "--" in argv:
        split = argv.index("--")
        own, app_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(prog="reaper_testbed_support.serve")
    parser.add_argument("target", help="module:attribute of the WSGI application")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--name", required=True, help="process title and the app's argv[0]")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--timeout", type=int, default=300)
    args = parser.parse_args(own)
    options = {
        "bind": [args.bind],
        "workers": args.workers,
        "threads": args.threads,
        "worker_class": "gthread",
        "timeout": args.timeout,
        "graceful_timeout": 2,
        # No keep-alive: gunicorn closes idle connections after 2 s, and a client that
        # reuses one just as it closes gets "connection reset by peer" (nova's scheduler
        # then finds no allocation candidates). Connection: close avoids the race.
        "keepalive": 0,
        # nova lists a page of servers' ports from neutron with one device_id per server
        # in the query string: 4764 bytes for a page of 100 servers, over gunicorn's
        # default 4094-byte request line (414 URI Too Long, and nova answers 500).
        "limit_request_line": 0,
        "proc_name": args.name,
        "control_socket_disable": True,
        "errorlog": "-",
        "loglevel": "info",
    }
    _Application(args.target, options, [args.name, *app_args]).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Barbican's API application, from a paste file given on the command line.

``barbican.wsgi.api`` loads ``/etc/barbican/barbican-api-paste.ini`` and nothing else;
a testbed never reads or writes ``/etc``. Barbican's configuration is parsed when
``barbican.common.config`` is imported, from oslo.config's default files only (the first
of ``~/.barbican/barbican.conf``, ``~/barbican.conf``, ``/etc/barbican/barbican.conf``):
the testbed starts it with ``HOME`` pointing at the run's ``etc/barbican``, which holds
``.barbican/barbican.conf``.

Usage (through ``serve``): ``reaper_testbed_support.barbican_api:application -- PASTE``.
"""

from __future__ import annotations

import sys

from paste import deploy

application = deploy.loadapp(f"config:{sys.argv[-1]}")

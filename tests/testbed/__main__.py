"""Entry point of ``python -m tests.testbed`` (see cli.py)."""

import sys

from .cli import main

sys.exit(main())

"""``reaper-controller``: the long-running service (listener, workers, sweep)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    sys.stderr.write("reaper-controller: not implemented yet.\n")
    return 64


if __name__ == "__main__":
    sys.exit(main())

"""``python -m benchmarks [NAME [OPTIONS...]]...``: list reaper's benchmarks and run some.

With no arguments, the list is printed and the cheap benchmarks run with
their defaults (those that need only the local RabbitMQ and PostgreSQL);
the testbed ones (a real OpenStack, many minutes) run only when named.
Options after a name go to that benchmark, up to the next name:

    python -m benchmarks                          # the list, then intake and audit
    python -m benchmarks list                     # the list only
    python -m benchmarks intake --count 2000 audit --records 100000
    python -m benchmarks cleanup --sizes small --latency 0,100
    python -m benchmarks discovery --scale 0.1
    python -m benchmarks sweep --resources 100000 --projects 1000
    python -m benchmarks cleanup --help

Every benchmark is also a module of its own (``python -m benchmarks.cleanup_bench``).
This is what ``tox -e bench`` runs.
"""

from __future__ import annotations

import ast
import importlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).parent
#: Cheap enough to run by default: no testbed, a minute or two each.
DEFAULTS = ("intake", "audit")


def available() -> dict[str, str]:
    """Benchmark name -> the first line of its module docstring, read without importing.

    Importing the testbed benchmarks pulls in openstacksdk and the testbed
    code; the list must be instant.
    """
    found = {}
    for path in sorted(HERE.glob("*_bench.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        found[path.stem.removesuffix("_bench")] = doc.strip().splitlines()[0] if doc else ""
    return found


def print_list(names: dict[str, str]) -> None:
    print("benchmarks (python -m benchmarks NAME [OPTIONS]; NAME --help for options):")
    for name, summary in names.items():
        mark = " (default)" if name in DEFAULTS else ""
        print(f"  {name:<10} {summary}{mark}")


def split(argv: Sequence[str], names: dict[str, str]) -> list[tuple[str, list[str]]]:
    """``[name, opts..., name, opts...]`` -> ``[(name, opts), ...]``."""
    runs: list[tuple[str, list[str]]] = []
    for arg in argv:
        if arg in names:
            runs.append((arg, []))
        elif runs:
            runs[-1][1].append(arg)
        else:
            raise SystemExit(f"unknown benchmark {arg!r}; known: {', '.join(names)}")
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    names = available()
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        print_list(names)
        return 0
    if args and args[0] in ("list", "--list", "-l"):
        print_list(names)
        return 0
    if not args:
        print_list(names)
        args = [name for name in DEFAULTS if name in names]
    status = 0
    for name, options in split(args, names):
        print(f"\n=== {name} {' '.join(options)}".rstrip(), flush=True)
        started = time.monotonic()
        module = importlib.import_module(f"benchmarks.{name}_bench")
        try:
            code = module.main(options)
        except SystemExit as exc:  # argparse's --help and errors
            code = exc.code if isinstance(exc.code, int) else 1
        print(f"=== {name}: exit {code} after {time.monotonic() - started:.0f}s", flush=True)
        status = max(status, code or 0)
    return status


if __name__ == "__main__":
    raise SystemExit(main())

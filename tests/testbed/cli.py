"""``python -m tests.testbed up|start|down|status|logs|notification-format``.

A run is named by its directory or its id; with neither, ``REAPER_TESTBED_RUN_DIR`` or the
only run under the root (``REAPER_TESTBED_ROOT``, default /tmp/reaper-testbed) is used.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

from . import extras, layout, lifecycle
from .state import RunState
from .testbed import Testbed


def _resolve(run: str | None) -> Path:
    if run:
        path = Path(run)
        return path if path.is_dir() or os.sep in run else layout.root() / run
    if os.environ.get("REAPER_TESTBED_RUN_DIR"):
        return Path(os.environ["REAPER_TESTBED_RUN_DIR"])
    found = lifecycle.runs()
    if len(found) == 1:
        return found[0]
    names = ", ".join(p.name for p in found) or "none"
    raise SystemExit(f"name a run (runs under {layout.root()}: {names})")


def _describe(testbed: Testbed) -> str:
    exports = (
        f"OS_CLIENT_CONFIG_FILE={shlex.quote(str(testbed.clouds_yaml))} "
        f"OS_CLOUD={testbed.cloud_name} "
        f"REAPER_TESTBED_RUN_DIR={shlex.quote(str(testbed.run_dir))}"
    )
    return "\n".join(
        [
            f"run id:         {testbed.run_id}",
            f"run dir:        {testbed.run_dir}",
            f"clouds.yaml:    {testbed.clouds_yaml} (cloud {testbed.cloud_name})",
            f"keystone:       {testbed.keystone_url}",
            f"transport URL:  {testbed.transport_url}",
            f"notifications:  {testbed.notification_format} "
            "(exchange keystone, topic notifications)",
            f"optional:       {', '.join(testbed.state.services) or 'none'} "
            f"(of {', '.join(extras.MODULES)}: `start NAMES` adds them)",
            f"state:          {testbed.run_dir / 'state.json'}",
            f"export {exports}",
        ]
    )


def _up(args: argparse.Namespace) -> int:
    try:
        testbed = Testbed.up(
            args.run_id,
            args.format,
            keep_on_failure=args.keep_on_failure,
            extra_services=args.extras,
        )
    except Exception:
        return 1
    print(_describe(testbed))
    return 0


def _start(args: argparse.Namespace) -> int:
    testbed = Testbed.attach(_resolve(args.run))
    try:
        testbed.start_services(args.services)
    except Exception:
        return 1
    print(f"running: {', '.join(testbed.services) or 'no optional service'}")
    return 0


def _services(value: str) -> list[str]:
    try:
        return extras.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _down(args: argparse.Namespace) -> int:
    targets = lifecycle.runs() if args.all else [_resolve(args.run)]
    failed = 0
    for run_dir in targets:
        try:
            lifecycle.down(run_dir, keep_logs=args.keep_logs)
        except (RuntimeError, ValueError) as exc:
            print(f"testbed: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _status(args: argparse.Namespace) -> int:
    run_dir = _resolve(args.run)
    if args.json:
        print((run_dir / "state.json").read_text(), end="")
        return 0
    # Not attach(): status must also describe a run that is half up or was downed.
    testbed = Testbed(RunState.load(run_dir), owned=False)
    print(_describe(testbed))
    report = testbed.status()
    for kind, label in (("processes", "process"), ("apis", "api")):
        for name, ok in sorted(report[kind].items()):
            print(f"  {label:8} {name:18} {'up' if ok else 'DOWN'}")
    healthy = all(report["processes"].values()) and all(report["apis"].values())
    return 0 if healthy else 1


def _logs(args: argparse.Namespace) -> int:
    logs_dir = _resolve(args.run) / "logs"
    names = args.service or sorted(p.stem for p in logs_dir.glob("*.log"))
    files = [str(logs_dir / f"{name}.log") for name in names]
    command = ["tail", "-n", str(args.lines), *(["-F"] if args.follow else []), *files]
    return subprocess.call(command)


def _notification_format(args: argparse.Namespace) -> int:
    testbed = Testbed.attach(_resolve(args.run))
    testbed.set_notification_format(args.format)
    print(f"keystone now publishes {args.format} notifications")
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m tests.testbed", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start a new run")
    up.add_argument("--run-id", help="default: a random tbXXXXXXXX")
    up.add_argument("--format", choices=lifecycle.FORMATS, default="basic",
                    help="keystone's notification_format")  # fmt: skip
    up.add_argument("--keep-on-failure", action="store_true",
                    help="leave a failed run in place to inspect it")  # fmt: skip
    choices = ", ".join(extras.MODULES)
    up.add_argument("--with", dest="extras", type=_services, default=[], metavar="SERVICES",
                    help=f"also start these, comma-separated: {choices}")  # fmt: skip
    up.set_defaults(func=_up)

    start = commands.add_parser("start", help="start optional services into a running run")
    start.add_argument("services", type=_services, metavar="SERVICES",
                       help=f"comma-separated: {choices}")  # fmt: skip
    start.add_argument("run", nargs="?", help="run directory or run id")
    start.set_defaults(func=_start)

    down = commands.add_parser("down", help="stop a run and remove what it owns")
    down.add_argument("run", nargs="?", help="run directory or run id")
    down.add_argument("--all", action="store_true", help="every run under the root")
    down.add_argument("--keep-logs", action="store_true", help="keep the run directory")
    down.set_defaults(func=_down)

    status = commands.add_parser("status", help="which processes and APIs are up")
    status.add_argument("run", nargs="?")
    status.add_argument("--json", action="store_true", help="print state.json")
    status.set_defaults(func=_status)

    logs = commands.add_parser("logs", help="tail the services' logs")
    logs.add_argument("service", nargs="*", help="e.g. keystone nova-compute (default: all)")
    logs.add_argument("--run", help="run directory or run id")
    logs.add_argument("-n", "--lines", type=int, default=30)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.set_defaults(func=_logs)

    fmt = commands.add_parser("notification-format", help="restart keystone with a format")
    fmt.add_argument("format", choices=lifecycle.FORMATS)
    fmt.add_argument("run", nargs="?")
    fmt.set_defaults(func=_notification_format)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))

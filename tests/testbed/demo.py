"""reaper's main job, end to end, on embedded defaults: ``tox -e demo``.

1. brings up the testbed (a real Keystone, Nova, Cinder, Neutron, Glance and
   Placement on this machine);
2. builds a tenant as its own user: network, router, servers, volumes,
   snapshots, floating IPs, an image, a keypair;
3. generates the audit signing key (``reaper audit keygen``) in its scratch
   folder and starts ``reaper-controller`` with the embedded SQLite store,
   the shipped default policy and that key, listening to Keystone's
   notifications;
4. deletes the project (and its user) in Keystone, nothing else;
5. shows the cleanup as it happens (tombstone states, step counts);
6. shows ``reaper audit show`` and ``reaper audit verify --require-signed``
   (the demo fails unless every checkpoint is signed with the demo's key and
   verifies), and a listing proving nothing of the tenant is left;
7. stops the controller and tears everything down.

Run it with ``python -m tests.testbed.demo`` from a checkout with reaper
installed (tox does that). ``--keep`` leaves the testbed running.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.testbed import Testbed
from tests.testbed.holdings import leftovers
from tests.testbed.tenant import TenantSpec, build_tenant, delete_identity

SPEC = TenantSpec(servers=2, volumes=3, attached_volumes=1, snapshots=1, floating_ips=1)


def say(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m" if sys.stdout.isatty() else f"\n==> {text}", flush=True)


def reaper(conf: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_bin("reaper"), "--config-file", str(conf), *args],
        env=env,
        text=True,
        capture_output=True,
        check=False,
    )


def _bin(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def signed_checkpoints(verify_json: str) -> int:
    """How many checkpoints ``audit verify -f json`` found, if every one of them is signed.

    0 when there are none, when any is unsigned or when the output is not a
    report: the demo shows a signed trail, not merely an intact one.
    """
    try:
        report = json.loads(verify_json)
    except ValueError:
        return 0
    checkpoints = report.get("Checkpoints", 0)
    if report.get("Result") != "OK" or report.get("Signatures Verified") != checkpoints:
        return 0
    return int(checkpoints)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="Leave the testbed running.")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)

    say("Bringing up a real OpenStack on this machine (Keystone, Nova, Cinder, Neutron, ...)")
    started = time.monotonic()
    bed = Testbed.up()
    controller: subprocess.Popen[str] | None = None
    try:
        print(f"testbed up in {time.monotonic() - started:.0f}s: {bed.run_dir}")
        admin = bed.connect()
        workdir = Path(tempfile.mkdtemp(prefix="reaper-demo-"))
        conf = workdir / "reaper.conf"
        conf.write_text(
            "[DEFAULT]\n"
            f"transport_url = {bed.transport_url}\n"
            f"state_path = {workdir}\n"
            "# The demo lets the controller act; a new deployment starts with dry_run = true.\n"
            "dry_run = false\n"
            "[service_credentials]\n"
            f"cloud = {bed.cloud_name}\n"
            "[audit]\n"
            f"signing_key_file = {workdir / 'audit-signing.pem'}\n"
            "[api]\n"
            "port = 0\n"
            "[sweep]\n"
            "enabled = false\n"
        )
        env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(bed.clouds_yaml)}

        say("Building a tenant as its own user")
        tenant = build_tenant(admin, SPEC, name="demo-tenant")
        print(
            f"project {tenant.project_id}: {len(tenant.server_ids)} servers, "
            f"{len(tenant.volume_ids)} volumes, {len(tenant.snapshot_ids)} snapshots, "
            f"{len(tenant.floating_ip_ids)} floating IPs, {len(tenant.image_ids)} images, "
            f"network, subnet, router, security groups, keypair"
        )

        say("reaper audit keygen (the key that signs the audit trail's checkpoints)")
        keygen = reaper(conf, "audit", "keygen", env=env)
        print(keygen.stdout + keygen.stderr)
        if keygen.returncode != 0:
            return 1

        say("Starting reaper-controller (SQLite store, default policy, signing key)")
        log_path = workdir / "controller.log"
        controller = subprocess.Popen(
            [_bin("reaper-controller"), "--config-file", str(conf)],
            env=env,
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        # Ready once its queue is bound: a deletion before that would go unheard.
        ready_by = time.monotonic() + 120
        while "controller started" not in log_path.read_text():
            if controller.poll() is not None or time.monotonic() > ready_by:
                print(log_path.read_text())
                return 1
            time.sleep(0.5)

        say(f"Deleting project {tenant.project_id} (and its user) in Keystone - nothing else")
        delete_identity(admin, tenant)

        say("Watching the cleanup")
        deadline = time.monotonic() + args.timeout
        last = ""
        while time.monotonic() < deadline:
            listing = reaper(
                conf,
                "tombstone",
                "list",
                "-f",
                "value",
                "-c",
                "Identity",
                "-c",
                "State",
                "-c",
                "Reason",
                env=env,
            ).stdout.strip()
            if listing != last:
                print(listing, flush=True)
                last = listing
            states = [line.split()[1] for line in listing.splitlines() if line.split()]
            if len(states) >= 2 and all(s in ("complete", "refused", "partial") for s in states):
                break
            time.sleep(1)

        say("reaper audit show (the last records)")
        shown = reaper(
            conf,
            "audit",
            "show",
            "-f",
            "value",
            "-c",
            "Seq",
            "-c",
            "Action",
            "-c",
            "Outcome",
            "-c",
            "Target Type",
            "-c",
            "Target ID",
            "-c",
            "Reason",
            env=env,
        )
        print("\n".join(shown.stdout.splitlines()[:15]))  # newest first

        say("reaper audit verify --require-signed")
        verified = reaper(conf, "audit", "verify", "--require-signed", env=env)
        print(verified.stdout + verified.stderr)
        signed = signed_checkpoints(reaper(conf, "audit", "verify", "-f", "json", env=env).stdout)
        print(f"checkpoints signed with the demo's key and verified: {signed}")

        say("What the deleted project still owns")
        left = leftovers(admin, tenant.project_id)
        print(left or "nothing (Neutron re-creates a 'default' security group on listing)")
        ok = (
            not left
            and verified.returncode == 0
            and signed > 0
            and all(s == "complete" for s in states)
        )
        say("Demo " + ("succeeded" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        if controller is not None and controller.poll() is None:
            controller.send_signal(signal.SIGTERM)
            try:
                controller.wait(timeout=60)
            except subprocess.TimeoutExpired:
                controller.kill()
        if not args.keep:
            say("Tearing the testbed down")
            bed.down()


if __name__ == "__main__":
    sys.exit(main())

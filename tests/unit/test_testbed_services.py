"""The testbed's setup commands, as the services' own command lines read them."""

import argparse
from pathlib import Path

from tests.testbed.services import setup_commands
from tests.testbed.state import RunState


class EveryDatabase(dict[str, str]):
    """Names a database for every service that asks."""

    def __missing__(self, key: str) -> str:
        return f"tbabc_{key}"


def run_state(admin_password: str) -> RunState:
    """A run's state as the setup commands read it, Keystone on port 5000."""
    return RunState(
        run_id="tbabc",
        run_dir="/nonexistent",
        admin_password=admin_password,
        ports={"keystone": 5000},
        postgres_url="postgresql://postgres@127.0.0.1:5432/",
        databases=EveryDatabase(),
    )


def test_an_admin_password_that_starts_with_a_dash_is_still_the_password() -> None:
    """``secrets.token_urlsafe`` starts with "-" one time in 64.

    keystone-manage (oslo.config, argparse underneath) read such a password, given
    as the next argument, as an unknown option, and the testbed failed to come up.
    """
    state = run_state(admin_password="-dash-first")
    bootstrap = next(c for c in setup_commands(state)["keystone"] if "bootstrap" in c.argv)
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap-password")
    known, _ = parser.parse_known_args(bootstrap.argv[bootstrap.argv.index("bootstrap") + 1 :])

    assert known.bootstrap_password == "-dash-first"


def test_keystones_in_process_cache_is_the_one_cache_of_its_one_process() -> None:
    """dogpile's memory backend lives in one process: Keystone's writes invalidate only it.

    With a second gunicorn worker, a project deleted through one would still be found in
    the other's cache, and reaper's verification would be answered from a stale copy.
    """
    from tests.testbed import configs
    from tests.testbed.services import api_command, core_apis

    state = run_state(admin_password="secret")
    cache = configs.keystone(state)["keystone/keystone.conf"]["cache"]
    assert (cache["enabled"], cache["backend"]) == ("True", "dogpile.cache.memory")
    argv = api_command(state, core_apis(state)["keystone"]).argv
    assert "--workers" not in argv
    # serve.py runs in the services' venv (gunicorn): its default is read from its source.
    serve = Path(configs.__file__).parent / "support" / "reaper_testbed_support" / "serve.py"
    assert 'add_argument("--workers", type=int, default=1)' in serve.read_text()

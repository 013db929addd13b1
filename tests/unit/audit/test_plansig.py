"""A plan file signed with the audit key: an edit, even rehashed, is refused by ``apply``."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from reaper.audit import keys, plansig
from reaper.cli import exitcodes
from reaper.cli.main import ReaperApp
from reaper.model import (
    ActionSpec,
    Decision,
    IdentityKind,
    IdentityRef,
    Plan,
    Resource,
    ResourceRef,
    Step,
    Verdict,
)

PROJECT = IdentityRef(IdentityKind.PROJECT, "0c5d5f0e3c2a4b5e9b1d2f3a4b5c6d7e")
LIVE_PROJECT = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def plan() -> Plan:
    server = Resource(type="compute.server", id="s1", project_id=PROJECT.id)
    return Plan(
        identity=PROJECT,
        created_at=T0,
        resources=(server,),
        decisions=(Decision(server.ref, Verdict.ACT, (ActionSpec("delete"),)),),
        steps=(Step("delete:compute.server:s1", "delete", server.ref),),
        trigger="identity.project.deleted",
    )


def rehashed_with_a_foreign_quota_step(data: dict) -> dict:
    """What an attacker with write access to the file does: edit, then recompute the hash."""
    quota = ResourceRef("compute.quota", LIVE_PROJECT)
    edited = Plan.from_dict({k: v for k, v in data.items() if k != plansig.FIELD})
    forged = Plan(
        identity=edited.identity,
        created_at=edited.created_at,
        resources=edited.resources,
        decisions=edited.decisions,
        steps=(*edited.steps, Step(f"delete:compute.quota:{LIVE_PROJECT}", "delete", quota)),
        trigger=edited.trigger,
    )
    return {**forged.to_dict(), plansig.FIELD: data[plansig.FIELD]}


@pytest.fixture
def signer(tmp_path: Path) -> keys.Signer:
    return keys.generate(str(tmp_path / "audit.pem"))


def test_a_signed_plan_verifies_with_the_public_half(signer: keys.Signer) -> None:
    data = plansig.sign(plan().to_dict(), signer)

    assert plansig.check(data, signer.public_key) is None
    assert Plan.from_dict(data).content_hash == data["content_hash"]


def test_an_edited_plan_with_a_recomputed_hash_is_refused(signer: keys.Signer) -> None:
    forged = rehashed_with_a_foreign_quota_step(plansig.sign(plan().to_dict(), signer))
    Plan.from_dict(forged)  # the hash alone is satisfied

    with pytest.raises(plansig.PlanSignatureError, match="edited after it was signed"):
        plansig.check(forged, signer.public_key)


def test_a_plan_signed_by_another_key_is_refused(signer: keys.Signer, tmp_path: Path) -> None:
    other = keys.generate(str(tmp_path / "other.pem"))
    data = plansig.sign(plan().to_dict(), other)

    with pytest.raises(plansig.PlanSignatureError, match="another key"):
        plansig.check(data, signer.public_key)


def test_an_unsigned_plan_needs_an_explicit_flag_while_a_key_is_configured(
    signer: keys.Signer,
) -> None:
    with pytest.raises(plansig.PlanSignatureError, match="--allow-unsigned"):
        plansig.check(plan().to_dict(), signer.public_key)
    allowed = plansig.check(plan().to_dict(), signer.public_key, allow_unsigned=True)
    assert "unsigned" in str(allowed)


def test_without_a_configured_key_a_plan_runs_on_its_hash_and_a_signature_is_noted(
    signer: keys.Signer,
) -> None:
    assert plansig.check(plan().to_dict(), None) is None
    assert "no [audit] signing_key_file can verify it" in str(
        plansig.check(plansig.sign(plan().to_dict(), signer), None)
    )


def test_a_checkpoint_signature_cannot_pass_for_a_plans(signer: keys.Signer) -> None:
    data = plan().to_dict()
    data[plansig.FIELD] = {
        "algorithm": "ed25519",
        "key_id": signer.key_id,
        "value": signer.sign(data["content_hash"].encode()),
    }

    with pytest.raises(plansig.PlanSignatureError):
        plansig.check(data, signer.public_key)


# -- reaper apply, before any connection ------------------------------------------------------


def apply(tmp_path: Path, plan_file: Path, *extra: str) -> tuple[int, str]:
    """``reaper apply PLAN --yes``: its stderr, after the one-line banner of what it uses.

    No cloud is configured, so getting past the plan check would fail differently.
    """
    conf = tmp_path / "reaper.conf"
    key = tmp_path / "audit.pem"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n[audit]\nsigning_key_file = {key}\n")
    app = ReaperApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    code = app.run(["--config-file", str(conf), "apply", str(plan_file), "--yes", *extra])
    return code, app.stderr.getvalue()


def test_apply_refuses_an_edited_and_rehashed_plan_in_one_line(
    signer: keys.Signer, tmp_path: Path
) -> None:
    forged = tmp_path / "plan.json"
    signed = plansig.sign(plan().to_dict(), signer)
    forged.write_text(json.dumps(rehashed_with_a_foreign_quota_step(signed)))

    code, err = apply(tmp_path, forged)

    assert code == exitcodes.REFUSED == 4
    (refusal,) = [line for line in err.splitlines() if not line.startswith("reaper: config ")]
    assert refusal.startswith("refused: the plan's signature does not verify")


def test_apply_refuses_an_unsigned_plan_while_a_key_is_configured(
    signer: keys.Signer, tmp_path: Path
) -> None:
    unsigned = tmp_path / "plan.json"
    unsigned.write_text(json.dumps(plan().to_dict()))

    code, err = apply(tmp_path, unsigned)

    assert code == exitcodes.REFUSED
    assert err.splitlines()[-1].startswith("refused: the plan is not signed")

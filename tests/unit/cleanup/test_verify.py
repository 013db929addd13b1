"""Keystone's word, and the one rule that asks it again before anything runs."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from openstack import exceptions as sdk_exc

from reaper.cleanup.verify import (
    IdentityState,
    Refused,
    Verification,
    VerificationError,
    verify,
    verify_before_execute,
)
from reaper.model import IdentityKind, IdentityRef, Plan

from .fakes import PROJECT, Keystone, unreachable

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def conn_answering(answer: Any) -> Any:
    def get(_: str) -> Any:
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return SimpleNamespace(identity=SimpleNamespace(get_project=get, get_user=get, get_domain=get))


class TestVerify:
    def test_a_404_without_keystones_error_body_is_not_gone(self) -> None:
        """Keystone's own 404 (and reaper's account found) is gone: test_verify_http."""
        conn = conn_answering(sdk_exc.NotFoundException("no such project"))
        with pytest.raises(VerificationError, match="not Keystone's own answer"):
            verify(conn, PROJECT)

    def test_found_and_disabled_is_disabled_with_name_and_domain(self) -> None:
        found = SimpleNamespace(is_enabled=False, name="web", domain_id="d-1")
        assert verify(conn_answering(found), PROJECT) == Verification(
            PROJECT, IdentityState.DISABLED, name="web", domain_id="d-1"
        )

    def test_found_and_enabled_is_enabled(self) -> None:
        found = SimpleNamespace(is_enabled=True, name="web", domain_id="d-1")
        assert verify(conn_answering(found), PROJECT).state is IdentityState.ENABLED

    @pytest.mark.parametrize(
        "error",
        [
            sdk_exc.HttpException("503 Service Unavailable"),
            sdk_exc.ForbiddenException("403"),
            ConnectionError("connection refused"),
            TimeoutError("timed out"),
        ],
    )
    def test_anything_else_is_not_an_answer(self, error: BaseException) -> None:
        with pytest.raises(VerificationError):
            verify(conn_answering(error), PROJECT)

    def test_a_verified_state_names_its_trigger(self) -> None:
        user = IdentityRef(IdentityKind.USER, "u")
        assert Verification(user, IdentityState.GONE).trigger == "identity.user.deleted"
        assert Verification(user, IdentityState.DISABLED).trigger == "identity.user.disabled"


def plan_for(trigger: str) -> Plan:
    return Plan(identity=PROJECT, created_at=T0, trigger=trigger)


class TestVerifyBeforeExecute:
    def test_a_deletion_plan_runs_only_while_the_identity_is_gone(self) -> None:
        plan = plan_for("identity.project.deleted")
        assert verify_before_execute(Keystone(), plan).gone
        for state in (IdentityState.ENABLED, IdentityState.DISABLED):
            with pytest.raises(Refused) as refused:
                verify_before_execute(Keystone({PROJECT: state}), plan)
            assert refused.value.verification.state is state

    def test_a_disable_plan_runs_while_the_identity_is_still_disabled(self) -> None:
        plan = plan_for("identity.project.disabled")
        assert verify_before_execute(Keystone({PROJECT: IdentityState.DISABLED}), plan)
        with pytest.raises(Refused):
            verify_before_execute(Keystone({PROJECT: IdentityState.ENABLED}), plan)

    def test_the_operator_may_allow_a_disabled_identity(self) -> None:
        plan = plan_for("identity.project.deleted")
        keystone = Keystone({PROJECT: IdentityState.DISABLED})
        assert verify_before_execute(keystone, plan, disabled_ok=True)
        with pytest.raises(Refused):
            verify_before_execute(
                Keystone({PROJECT: IdentityState.ENABLED}), plan, disabled_ok=True
            )

    def test_keystone_unreachable_is_an_error_never_a_go(self) -> None:
        with pytest.raises(VerificationError):
            verify_before_execute(
                Keystone({PROJECT: unreachable()}), plan_for("identity.project.deleted")
            )

"""Verification: only Keystone's own answer counts, and any failure to get one is "cannot say"."""

from __future__ import annotations

import pytest
from keystoneauth1 import exceptions as ks_exc

from reaper.cleanup.verify import VerificationError, verify
from reaper.model import IdentityKind, IdentityRef


class Unreachable:
    """A connection whose identity proxy cannot even be made: no token, so no endpoint."""

    @property
    def identity(self) -> object:
        raise ks_exc.ConnectFailure("Unable to establish connection to http://ks:1/v3/auth/tokens")


@pytest.mark.parametrize("kind", list(IdentityKind))
def test_keystone_unreachable_before_the_first_request_is_a_verification_error(
    kind: IdentityKind,
) -> None:
    with pytest.raises(VerificationError, match="Keystone unreachable") as raised:
        verify(Unreachable(), IdentityRef(kind, "0123"))
    assert isinstance(raised.value.__cause__, ks_exc.ConnectFailure)

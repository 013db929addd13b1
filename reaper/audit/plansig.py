"""Plans signed with the audit signing key, so a plan file proves who made it.

A plan's ``content_hash`` only proves that the file is unchanged *if the
hash is trusted*: anyone can edit a plan and recompute it. When ``[audit]
signing_key_file`` is configured, ``reaper plan -o`` signs the hash with
that Ed25519 key (the one that signs the trail's checkpoints), and ``reaper
apply`` verifies the signature with its public half before anything else:
an edited plan, rehashed or not, or one signed by another key, is refused.
A plan without a signature is refused too while a key is configured, unless
the operator says ``--allow-unsigned`` (a plan from a host without the key).

The signature covers ``reaper-plan:`` and the hash, which covers every
other field; it is kept beside the hash in the file, never inside the
content it signs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from reaper.audit import keys

#: The plan file's field that carries the signature.
FIELD = "signature"
ALGORITHM = "ed25519"


class PlanSignatureError(ValueError):
    """A plan's signature is missing where one is required, or does not verify."""


def _message(content_hash: str) -> bytes:
    # A domain prefix: a checkpoint signature can never pass for a plan's, nor back.
    return b"reaper-plan:" + content_hash.encode("ascii")


def sign(plan_data: Mapping[str, Any], signer: keys.Signer) -> dict[str, Any]:
    """``plan_data`` (a plan's ``to_dict()``) with its signature added."""
    signature = {
        "algorithm": ALGORITHM,
        "key_id": signer.key_id,
        "value": signer.sign(_message(plan_data["content_hash"])),
    }
    return {**plan_data, FIELD: signature}


def check(
    plan_data: Mapping[str, Any],
    public_key: Ed25519PublicKey | None,
    *,
    allow_unsigned: bool = False,
) -> str | None:
    """Raise :class:`PlanSignatureError` unless ``plan_data`` may run; a warning, or None.

    ``plan_data`` must already have passed the hash check (``Plan.from_dict``),
    so that its ``content_hash`` is the hash of what it says. With no key to
    check against (none configured) a signature cannot be verified: the plan
    runs on its hash alone, and the warning says so.
    """
    signature = plan_data.get(FIELD)
    if public_key is None:
        if signature:
            return "warning: the plan is signed, but no [audit] signing_key_file can verify it"
        return None
    if not signature:
        if allow_unsigned:
            return "warning: applying an unsigned plan (--allow-unsigned)"
        raise PlanSignatureError(
            "the plan is not signed, and [audit] signing_key_file is set: make it with "
            "`reaper plan -o` on a host with the key, or pass --allow-unsigned"
        )
    if not isinstance(signature, Mapping) or signature.get("algorithm") != ALGORITHM:
        raise PlanSignatureError(f"the plan's signature is not an {ALGORITHM} signature")
    if signature.get("key_id") != keys.key_id(public_key):
        raise PlanSignatureError(
            f"the plan was signed by another key ({str(signature.get('key_id'))[:16]}...), "
            "not the configured audit signing key"
        )
    content_hash = str(plan_data.get("content_hash", ""))
    if not keys.verify_signature(public_key, _message(content_hash), str(signature.get("value"))):
        raise PlanSignatureError(
            "the plan's signature does not verify: it was edited after it was signed"
        )
    return None

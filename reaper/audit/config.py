"""Options of the audit trail, declared beside the code that reads them."""

from __future__ import annotations

from oslo_config import cfg

OPTS = [
    cfg.StrOpt(
        "signing_key_file",
        help="PEM file holding the Ed25519 private key that signs audit checkpoints. "
        "Without it checkpoints are written unsigned and reaper warns at start; an "
        "unsigned chain still detects edits, but not its own wholesale replacement.",
    ),
    cfg.IntOpt(
        "checkpoint_interval",
        default=300,
        min=10,
        help="Seconds between two checkpoints of the audit chain. A checkpoint is written "
        "even when nothing happened, so silence can be told apart from truncation.",
    ),
]

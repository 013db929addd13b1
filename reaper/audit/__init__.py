"""The tamper-evident audit trail: every action reaper takes, explainable afterwards.

Where to start::

    from reaper.audit.trail import AuditTrail
    from reaper.audit.record import AuditAction, AuditOutcome, AuditReason, AuditTarget

    trail = AuditTrail.from_conf(store, conf)      # once per process
    trail.append(action=AuditAction.DELETE, outcome=AuditOutcome.SUCCESS,
                 target=AuditTarget.for_resource(server), before=server,
                 reason=AuditReason.policy_match(policy, rule, why),
                 tombstone_id=tomb.id, plan_hash=plan.content_hash, step_id=step.id)
    with trail.batch() as batch: ...               # several records, one transaction
    trail.end_tombstone(tomb.id)                   # signed checkpoint closing a tombstone
    Checkpointer.from_conf(trail, conf).start()    # periodic checkpoints (checkpointer.py)

The modules, one job each:

* ``record``: CADF events plus reaper's fields (pure).
* ``chain``: ``head = SHA-256(prev_head || SHA-256(body))`` (pure).
* ``keys`` / ``checkpoint``: the Ed25519 key and signed checkpoints.
* ``streams``: which of the K chains an append takes, and its seqs.
* ``verify``: the streaming verifier, for the store or a bundle (pure):
  ``inspection`` checks each record alone, ``chainwalk`` its place in its
  stream, ``checkpoint_checks`` the checkpoints; ``parallel`` spreads the
  per-record work over processes for long trails.
* ``export``: bundles that verify offline.
* ``trail`` / ``checkpointer``: the API above, over ``reaper.store``.
"""

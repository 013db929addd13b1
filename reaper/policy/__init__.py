"""Policies: what reaper does to each resource a deleted identity left behind.

This docstring is the manual of the policy format (``pydoc reaper.policy``).
The shipped ``policies/default.yaml`` and ``policies/forensic.yaml`` are
worked examples; ``reaper policy validate FILE...`` checks a file and
``reaper policy explain`` shows what the loaded policies do.

Using it
========

::

    from reaper.policy import EvaluationContext, evaluate, load_policies, trigger_name

    policies = load_policies(paths)          # PolicyError lists every problem
    ctx = EvaluationContext(
        trigger=trigger_name(identity.kind),  # "identity.project.deleted"
        identity=identity,
        now=now,
        protected_project_ids=conf.protected_project_ids,
        protected_domain_ids=conf.protected_domain_ids,
        domain_id=domain_id,                  # of the deleted identity, when known
    )                                         # or reaper.cleanup Settings.context(...)
    evaluation = evaluate(policies, resources, ctx)
    evaluation.decisions    # one Decision per resource, same order: ACT / SKIP / PROTECT
    evaluation.held         # non-empty: the plan must wait for an operator
    policies.digest         # record it in the plan (Plan.policy_digest)

Evaluation is pure (no I/O, no clock: ``now`` comes from the context) and
never raises on resource data: anything unexpected protects the resource.

A policy file
=============

::

    version: 1                       # optional; only 1 exists
    defaults:                        # optional
      limits: {max_resources: 500}   # for every policy of this file without its own
    policies:
      - name: delete-project-orphans        # unique across all loaded files
        description: Why it exists.          # shown by explain; write the why
        triggers: [identity.project.deleted] # names or globs ("identity.*.deleted", "*")
        resources: [compute.server, "network.*"]   # type names or globs ("*")
        protect:                     # optional: rules that keep resources safe
          - tag: "reaper:keep"
          - {key: is_shared, value: true}
        filters:                     # optional: all must hold for the actions to apply
          - {key: reaper_relation, value: owner}
        actions:                     # optional if protect is given
          - delete
          - {type: evidence_snapshot, retention: 90d}
          - {type: delete, after: 7d}
        limits: {max_resources: 100} # optional: blast radius of this policy

Triggers are ``identity.<project|user|domain>.<deleted|disabled>``: what
Keystone (as verified) did to which kind of identity. Resource types are
the ``service.kind`` names the inventory handlers register (``reaper policy
explain`` lists them). A glob must match at least one name.

Files are loaded in the order given (a directory: its ``*.yaml``/``*.yml``
in name order), policies in the order written; that order is the
evaluation order.

How a resource is decided
=========================

1. **Configured protection** (``[DEFAULT] protected_project_ids``,
   ``protected_domain_ids``): the deleted project or the domain concerned is
   protected, or the resource's ``project_id``/``tenant_id``/``owner``/owner
   field names a protected project -> PROTECT.
2. A resource of a type no handler registers -> SKIP.
3. **Protect rules** of every *applicable* policy (its triggers include the
   trigger and its resources the type), in order. The first that holds ->
   PROTECT, naming the policy and rule. A rule that cannot be evaluated (a
   field missing from the resource, a type mismatch, an unparsable
   timestamp) counts as holding: protection fails closed. A guard policy
   with only ``protect`` (no actions) protects for every policy.
4. **Filters** of the applicable policies that have actions, in order. The
   first policy whose filters all hold -> ACT with its actions; its name, a
   readable form of its filters (``Decision.rule``) and a reason go along.
   A filter that cannot be evaluated stops the search: SKIP, failing closed.
5. Otherwise SKIP with the reason: no policy for the type on the trigger,
   which filters did not match, or that the deleted user only *created* the
   resource in a project that still exists (``reaper_relation: creator``)
   and no policy opted in.

**Blast radius.** When more resources than ``limits.max_resources`` get
ACT from one policy, ``Evaluation.held`` says so. The decisions still say
ACT: the plan is built, shown and held until an operator approves it, never
silently trimmed.

Filters
=======

Filters (in ``protect`` and ``filters``) are mappings identified by one key:

``{key: FIELD, op: OP, value: VALUE}`` -- value filter (``op`` defaults to ``eq``)
    ``FIELD`` is an attribute of the resource: the openstacksdk
    ``to_dict(computed=False)`` names (``is_shared``, ``visibility``,
    ``status``, ``created_at``...), reaper's ``reaper_relation`` (``owner``
    when the deleted identity owns the resource, ``creator`` when a deleted
    user made it in a live project) and ``reaper_owner_field``, or a dotted
    path into them (``metadata.team``, ``fixed_ips.0.subnet_id``). ``id``,
    ``name``, ``project_id``, ``user_id``, ``status`` fall back to the values
    reaper normalised when the service's attributes lack them.

    Operators: ``eq``, ``ne`` (one value; booleans only equal booleans),
    ``in``, ``not-in`` (a list), ``contains`` (list element, mapping key or
    substring), ``glob`` (shell pattern, case-sensitive), ``regex``
    (``re.search``; anchor with ``^...$``), ``lt``, ``le``, ``gt``, ``ge``
    (two numbers or two strings), ``present``, ``absent`` (no value: the
    field exists and is not null / is missing or null).

``{age: {key: created_at, op: gt, value: 7d}}`` -- age filter
    How long before ``now`` an ISO 8601 timestamp lies (naive means UTC).
    ``key`` defaults to ``created_at``, ``op`` (``gt``, ``ge``, ``lt``,
    ``le``) to ``gt``: "older than".

``{tag: NAME}`` -- tag filter
    ``NAME`` is an element of ``tags`` (Nova, Neutron, Glance) or a key of
    ``metadata`` (Nova, Cinder) or ``properties`` (Glance). ``reaper:keep``
    is the conventional "never touch" tag.

``{metadata: {key: KEY, op: OP, value: VALUE}}`` -- metadata filter
    The value of one (literal, dots allowed) key of ``metadata``, else of
    ``properties``, with the value-filter operators.

``{and: [...]}``, ``{or: [...]}``, ``{not: FILTER}`` or ``{not: [...]}``
    Composition; a ``filters`` list is an implicit ``and``, ``not`` of a
    list negates its conjunction. Three-valued: an error in one child only
    matters when the others do not settle the answer.

Missing fields and nulls. In filters a field the resource lacks matches
nothing (not even ``ne``/``not-in``; only ``absent``), so ``not`` of it
holds. In protect rules a missing field is an error, hence protects; a null
is a value (``eq null`` holds) except for ordering, ``glob``, ``regex``,
``contains`` and age, where it is an error in protect rules and a non-match
in filters.

Fields and resource types (checked when loading)
------------------------------------------------

Every resource type declares its fields (``ResourceType.all_fields``).

* A **protect rule** testing a field (for dotted keys: its first part) that
  a type listed *by name* does not have is an error: it would never protect
  that type. For types matched only by a **glob** (``resources: ["*"]``,
  ``"network.*"``), each rule applies to the types that have every field it
  tests, and to no others; the ``tag`` rule applies to types with ``tags``,
  ``metadata`` or ``properties``, the ``metadata`` rule to those with
  ``metadata`` or ``properties``. A rule that applies to no type at all is
  an error. This is what lets one guard policy over ``["*"]`` say
  ``is_shared: true`` for networks and ``visibility`` for images.
* A **filter** must test a field at least one of the policy's types has;
  for the other types it simply never matches.

Actions
=======

An action is a name (``delete``) or a mapping with ``type`` and the
action's own parameters, each action declaring their JSON schema (``reaper
policy explain`` and ``reaper.actions``); ``after: DURATION`` (``30m``,
``12h``, ``7d``, ``2w``: a whole number and one unit s/m/h/d/w) is the
grace period before it runs, and becomes ``ActionSpec.after``.

* Each action must apply to every type the policy covers, globs included:
  a glob never silently narrows an action (list the types instead).
* The actions on one resource run in list order: an action may appear only
  once, nothing may follow an action that removes the resource
  (``delete``), and ``after`` may not decrease down the list.

YAML rules
==========

Safe loading only; duplicate keys, aliases and multiple documents are
errors; only ``true``/``false`` are booleans (``yes``, ``no``, ``on``, ``off``
stay strings) and dates stay strings. Every error names the file, line and
column. ``policies.digest`` is the SHA-256 of the canonical JSON of the
loaded documents in load order: the same policies give the same digest
whatever the comments, key order or file names.
"""

from __future__ import annotations

from reaper.policy.context import TRIGGERS, EvaluationContext, trigger_name
from reaper.policy.errors import PolicyError, PolicyEvaluationError, PolicyIssue
from reaper.policy.evaluate import Evaluation, evaluate
from reaper.policy.explain import ExplainRow, explain
from reaper.policy.filters import FILTERS, Filter, register
from reaper.policy.loader import (
    configured_policy_paths,
    default_policy_paths,
    load_policies,
    policy_files,
)
from reaper.policy.policies import Policy, PolicySet, ProtectRule

__all__ = [
    "FILTERS",
    "TRIGGERS",
    "Evaluation",
    "EvaluationContext",
    "ExplainRow",
    "Filter",
    "Policy",
    "PolicyError",
    "PolicyEvaluationError",
    "PolicyIssue",
    "PolicySet",
    "ProtectRule",
    "configured_policy_paths",
    "default_policy_paths",
    "evaluate",
    "explain",
    "load_policies",
    "policy_files",
    "register",
    "trigger_name",
]

"""The road every tombstone travels, one module per step, in order.

::

    trigger ─> verify ─> discover ─> decide ─> plan ─> record ─> execute ─> (recheck)
                                                                    │
    lifecycle: when a finished tombstone is looked at again   <─────┘
    worker:    the controller's claim-and-move loop over the steps
    sweep:     the triggers the bus never delivered

* trigger names: spelled once, :func:`reaper.model.trigger_name` (the policy
  stage validates them, so they live below it); a verified state's trigger
  is :attr:`~reaper.cleanup.verify.Verification.trigger`;
* :mod:`~reaper.cleanup.settings`: the configuration, read once
  (:class:`Settings`), which makes the policy evaluation's context;
* :mod:`~reaper.cleanup.seams`: the cloud as the road sees it
  (:class:`Cloud`: Keystone, inventory, runner), injected everywhere;
* :mod:`~reaper.cleanup.verify`: Keystone's word, and the one
  verify-before-execute rule (:func:`verify_before_execute`);
* :mod:`~reaper.cleanup.discover`: whose resources to look for;
* :mod:`~reaper.cleanup.decide`: the policies' verdicts, in context;
* :mod:`~reaper.cleanup.plan`: verify -> discover -> decide -> plan;
* :mod:`~reaper.cleanup.operator`: the same for ``reaper plan``/``apply``;
* :mod:`~reaper.cleanup.record`: the reasoning behind a plan, audited;
* :mod:`~reaper.cleanup.execute`: the run, with
  :mod:`~reaper.cleanup.recheck` first;
* :mod:`~reaper.cleanup.lifecycle`, :mod:`~reaper.cleanup.worker`,
  :mod:`~reaper.cleanup.sweep`.

The road sits above the stages (events, inventory, policy, planner,
executor, actions, audit) and below its callers (``cli``, ``controller``).
A plan is handed from step to step in memory and persisted once per change.
"""

"""Loading actions through stevedore."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from stevedore import ExtensionManager

from reaper.actions.base import Action

NAMESPACE = "reaper.actions"


@functools.cache
def action_classes() -> Mapping[str, type[Action]]:
    """Every registered action class, by the name policies use."""
    manager = ExtensionManager(NAMESPACE, invoke_on_load=False, on_load_failure_callback=_raise)
    actions: dict[str, type[Action]] = {}
    for ext in sorted(manager, key=lambda e: e.name):
        if ext.plugin.name != ext.name:
            raise RuntimeError(f"action entry point {ext.name} names class {ext.plugin.name}")
        actions[ext.name] = ext.plugin
    return actions


def _raise(manager: ExtensionManager, entrypoint: object, exc: Exception) -> None:
    raise RuntimeError(f"action {entrypoint} failed to load: {exc}") from exc

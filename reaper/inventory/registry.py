"""Loading inventory handlers and their resource types through stevedore."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from stevedore import ExtensionManager

from reaper.inventory.base import Handler, ResourceType

NAMESPACE = "reaper.inventory"


@functools.cache
def handler_classes() -> Mapping[str, type[Handler]]:
    """Every registered handler class, by entry-point name, in name order."""
    manager = ExtensionManager(NAMESPACE, invoke_on_load=False, on_load_failure_callback=_raise)
    return {ext.name: ext.plugin for ext in sorted(manager, key=lambda e: e.name)}


def resource_types() -> Mapping[str, ResourceType]:
    """Every resource type any registered handler declares, by name."""
    types: dict[str, ResourceType] = {}
    for handler in handler_classes().values():
        for rtype in handler.types:
            if rtype.name in types:
                raise ValueError(f"resource type {rtype.name} is declared twice")
            types[rtype.name] = rtype
    return types


def _raise(manager: ExtensionManager, entrypoint: object, exc: Exception) -> None:
    # A handler that cannot load would make plans silently smaller: fail loudly.
    raise RuntimeError(f"inventory handler {entrypoint} failed to load: {exc}") from exc

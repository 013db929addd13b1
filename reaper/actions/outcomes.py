"""One attempt of a deletion, said as the executor's :class:`~reaper.executor.Result`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openstack import exceptions as sdk_exc

from reaper.executor import Result


def synchronous(call: Callable[[], Any]) -> Result:
    """The service deletes before answering: DONE, or GONE on 404."""
    try:
        call()
    except sdk_exc.NotFoundException:
        return Result.GONE
    return Result.DONE


def accepted(call: Callable[[], Any]) -> Result:
    """The service deletes after answering: ACCEPTED (confirmed by listing), or GONE on 404."""
    try:
        call()
    except sdk_exc.NotFoundException:
        return Result.GONE
    return Result.ACCEPTED

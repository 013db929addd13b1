"""How a batch of decoded messages reaches reaper's endpoint: all of them, whatever they hold.

oslo.messaging's own batch dispatcher drops messages between the driver and
the endpoint without a trace: a message without a ``priority``, or with one
it does not know, is logged and acknowledged; one whose event type is not a
string is filtered out. Worse, a ``priority`` that is not a string (``42``)
makes it raise on the whole batch, which is then requeued, redelivered and
refused again forever, with every notification in it (issue 13, item 14).

:class:`Dispatcher` replaces it. Each message becomes the plain dict the
endpoint reads (``ctxt``, ``publisher_id``, ``event_type``, ``payload``,
``metadata``, plus ``priority``, which the endpoint checks), built without
trusting any field. Messages with a well-formed event type that is not an
identity deletion, update or creation (``identity.authenticate``, another service's
``compute.instance.create.end``) are other consumers' business: they are
counted as ``ignored`` and acknowledged, as oslo's filter did. Everything
else, well-formed or not, goes to the endpoint, which records it or audits
why not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import oslo_messaging
from oslo_messaging.notify import dispatcher as oslo_dispatcher

from reaper import log
from reaper.events import keystone

LOG = log.get(__name__)

#: What an event type looks like (``service.resource.operation``); others are garbage.
_WELL_FORMED = re.compile(r"[A-Za-z0-9_.:-]{1,255}")
_IDENTITY = re.compile(keystone.EVENT_TYPE_PATTERN)
_CREATED = re.compile(keystone.CREATED_PATTERN)
#: The label ``reaper_notifications_total`` uses for other services' traffic.
OTHER = "other"


def envelope(message: Any, ctxt: Any) -> dict[str, Any]:
    """The endpoint's view of one decoded message; never raises."""
    if not isinstance(message, Mapping):
        return {"event_type": None, "payload": None, "priority": None, "ctxt": {}, "metadata": {}}
    return {
        "ctxt": ctxt if isinstance(ctxt, Mapping) else {},
        "publisher_id": message.get("publisher_id"),
        "event_type": message.get("event_type"),
        "payload": message.get("payload"),
        "metadata": {
            "message_id": message.get("message_id"),
            "timestamp": message.get("timestamp"),
        },
        "priority": message.get("priority"),
    }


def is_foreign(item: Mapping[str, Any]) -> bool:
    """A well-formed message about something reaper does not handle (not garbage)."""
    event_type = item.get("event_type")
    return (
        isinstance(event_type, str)
        and _WELL_FORMED.fullmatch(event_type) is not None
        and not _IDENTITY.match(event_type)
        and not _CREATED.match(event_type)
        and priority_problem(item) is None
    )


def priority_problem(item: Mapping[str, Any]) -> str | None:
    """Why the message's ``priority`` is not one oslo.messaging sends; ``None`` if it is.

    Only checked when the dict has the key: ``reaper replay`` files have no
    priority.
    """
    if "priority" not in item:
        return None
    priority = item["priority"]
    if isinstance(priority, str) and priority.lower() in oslo_dispatcher.PRIORITIES:
        return None
    shown = repr(priority)[:40] if priority is not None else "none"
    return f"priority {shown} is not one of oslo.messaging's"


class Dispatcher(oslo_dispatcher.BatchNotificationDispatcher):
    """oslo.messaging's batch dispatcher, made total (see the module docstring).

    With ``consume=False`` it requeues every message it is given: a
    listener that only declares its queue (``reaper queue declare``) must
    take nothing away from the controllers.

    ``endpoint.info`` receives every message of the batch that is not
    foreign and answers HANDLED or REQUEUE for all of them; an exception
    from it requeues the batch, as oslo's dispatcher would.
    """

    def __init__(self, endpoint: Any, *, consume: bool = True) -> None:
        super().__init__([endpoint], None)
        self.endpoint = endpoint
        self.consume = consume
        self.metrics = getattr(endpoint, "metrics", None)

    def dispatch(self, incoming: Iterable[Any]) -> set[Any]:
        batch = list(incoming)
        if not self.consume:
            return set(batch)  # hand everything back, untouched
        items = [envelope(getattr(m, "message", None), getattr(m, "ctxt", None)) for m in batch]
        mine = [item for item in items if not is_foreign(item)]
        if self.metrics is not None and len(mine) < len(items):
            self.metrics.notification(OTHER, "ignored", len(items) - len(mine))
        if not mine:
            return set()
        try:
            result = self.endpoint.info(mine)
        except Exception:
            LOG.exception("the endpoint failed on a batch; it is requeued")
            result = oslo_messaging.NotificationResult.REQUEUE
        if result == oslo_messaging.NotificationResult.REQUEUE:
            return set(batch)
        return set()

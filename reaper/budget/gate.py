"""The session's side of the budget: name a request's service, send it holding a slot.

Kept apart from :mod:`reaper.cloud` so the session only says *that* every
request passes the budget; *how* (which service, which answers count as
throttling) is here, beside the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reaper.budget.budget import Budget
from reaper.budget.services import Endpoints, name_of


def service_of(endpoints: Endpoints, url: str, absolute: str, kwargs: Mapping[str, Any]) -> str:
    """The service a request is for: its catalog type, else the endpoint its address is on.

    ``url`` is what the caller passed, ``absolute`` where it goes; a path
    on a named service's endpoint teaches ``endpoints`` that endpoint, so a
    next link sent later by address is the same service's.
    """
    kind = (kwargs.get("endpoint_filter") or {}).get("service_type") or kwargs.get("service_type")
    if not kind:
        return endpoints.service_of(absolute)
    service = name_of(str(kind))
    if absolute != url:
        endpoints.learn(absolute[: len(absolute) - len(url.lstrip("/"))], service)
    return service


def sent(budget: Budget, service: str, send: Callable[[], Any]) -> Any:
    """``send()`` holding one of ``service``'s slots; the budget hears the answer.

    An error that carries an HTTP answer (keystoneauth's ``HttpError``) is
    heard as that answer, then raised as it was.
    """
    with budget.slot(service) as sent_at:
        try:
            response = send()
        except Exception as exc:
            status = getattr(exc, "http_status", None)
            if isinstance(status, int):
                answer = getattr(exc, "response", None)
                budget.answered(service, status, getattr(answer, "headers", None), sent_at)
            raise
        budget.answered(service, response.status_code, response.headers, sent_at)
        return response

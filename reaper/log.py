"""Logging: structlog everywhere, JSON lines in the service, readable on a TTY.

Standard-library loggers (oslo.messaging, openstacksdk, keystoneauth,
SQLAlchemy) are routed through the same processors, so one redaction step
sees every line before it is written: no password, token, secret or
credential-bearing URL ever reaches a log, whoever logged it.

Call :func:`setup` once per process, then ``log.get(__name__)``.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from oslo_utils import strutils

REDACTED = "***"

#: Keys whose values are secrets, wherever they appear in an event dict.
_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|credential|private[_-]?key|auth[_-]?key|"
    r"api[_-]?key|signature|x-auth|x-subject-token|authorization|cookie)",
    re.IGNORECASE,
)
#: ``scheme://user:password@host`` (transport and database URLs).
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@", re.I)
#: Header-shaped secrets in free text: ``X-Auth-Token: gAAAA...``.
_HEADER = re.compile(
    r"(?P<name>x-auth-token|x-subject-token|x-service-token|authorization)"
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)(?P<value>[^\s\"',}]+)",
    re.IGNORECASE,
)
#: Fernet tokens look like this whatever they are called.
_FERNET = re.compile(r"\bgAAAAA[A-Za-z0-9_\-=]{20,}")


def redact_text(text: str) -> str:
    text = _URL_USERINFO.sub(r"\g<scheme>\g<user>:" + REDACTED + "@", text)
    text = _HEADER.sub(r"\g<name>\g<sep>" + REDACTED, text)
    text = _FERNET.sub(REDACTED, text)
    return strutils.mask_password(text, secret=REDACTED)


def redact(value: Any, key: str | None = None) -> Any:
    """``value`` with every secret replaced, recursively."""
    if (
        key is not None
        and _SECRET_KEY.search(key)
        and value not in (None, "", False)
        and not isinstance(value, (Mapping, list, tuple))
    ):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return value


def _redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    for key in list(event_dict):
        if key == "exc_info":
            continue
        event_dict[key] = redact(event_dict[key], key)
    return event_dict


def _redact_rendered(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    # Tracebacks are rendered into strings only at the end; redact them too.
    for key in ("exception", "stack"):
        if isinstance(event_dict.get(key), str):
            event_dict[key] = redact_text(event_dict[key])
    return event_dict


_QUIET = {
    # Useful at DEBUG only; at INFO they repeat every HTTP request.
    "keystoneauth": logging.WARNING,
    # "Failed to discover available identity versions": reaper says it better, once.
    "keystoneauth.identity.generic.base": logging.ERROR,
    "openstack": logging.WARNING,
    "urllib3": logging.WARNING,
    "stevedore": logging.WARNING,
    "amqp": logging.WARNING,
    "kombu": logging.WARNING,
    "oslo_messaging": logging.WARNING,
    "oslo.messaging": logging.WARNING,
    # "Context impl SQLiteImpl", "Will assume non-transactional DDL": every command, every time.
    "alembic": logging.WARNING,
}

#: Advice about the configuration (an unsigned trail, unpublished checkpoints) is said
#: once per process, and not at all when the operator asked for quiet (``-q``).
_advice = {"enabled": True}
_advised: set[str] = set()
_advised_lock = threading.Lock()


def advise(logger: Any, message: str, **fields: Any) -> None:
    """Log ``message`` at WARNING, the first time in this process only.

    For what the operator should change in reaper.conf but that does not stop
    the work: repeated by every store opened or every checkpoint written, it
    would teach operators to ignore warnings.
    """
    if not _advice["enabled"]:
        return
    with _advised_lock:
        if message in _advised:
            return
        _advised.add(message)
    logger.warning(message, **fields)


def forget_advice() -> None:
    """Forget what :func:`advise` said, as a new process would (for tests of the advice)."""
    with _advised_lock:
        _advised.clear()


def setup(
    *,
    json: bool | None = None,
    level: int | str = logging.INFO,
    stream: TextIO | None = None,
    debug: bool = False,
    log_file: str | None = None,
    advice: bool = True,
) -> None:
    """Configure structlog and stdlib logging for this process.

    ``json=None`` picks JSON lines unless ``stream`` is a terminal.
    ``log_file`` also appends every line from INFO on (DEBUG with ``debug``)
    to that file as JSON, whatever ``level`` the stream shows. ``advice=False``
    silences :func:`advise`.
    """
    _advice["enabled"] = advice
    stream = stream or sys.stderr
    if json is None:
        json = not (hasattr(stream, "isatty") and stream.isatty())
    if debug:
        level = logging.DEBUG
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_processor,
    ]
    renderer: Any
    if json:
        final: list[Any] = [
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(),
        ]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
        final = [_redact_rendered, renderer]
    if json:
        # dict_tracebacks yields structures; redact their text before rendering.
        final.insert(1, _redact_processor)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.setLevel(level)
    handlers: list[logging.Handler] = [handler]
    root_level = logging.getLevelName(level) if isinstance(level, str) else level
    if log_file:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=shared,
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.dict_tracebacks,
                    _redact_processor,
                    structlog.processors.JSONRenderer(),
                ],
            )
        )
        file_level = logging.DEBUG if debug else logging.INFO
        file_handler.setLevel(file_level)
        handlers.append(file_handler)
        root_level = min(root_level, file_level)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        if isinstance(old, logging.FileHandler):
            old.close()
    for new in handlers:
        root.addHandler(new)
    root.setLevel(root_level)
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(logging.DEBUG if debug else quiet)
    logging.captureWarnings(True)


def get(name: str | None = None, **initial: Any) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name, **initial)

"""Publishing each checkpoint outside the database, where reaper's database login cannot reach.

The chain and its signed checkpoints detect any edit of the trail, but not a
cut of its tail: whoever holds reaper's database login can drop the
append-only triggers, delete the last records and checkpoints, rewind the
chain head, and the next checkpoint signs the rewound head (issue 13, item
15). A copy of every checkpoint kept elsewhere settles it: ``reaper audit
verify --against`` (``published.py``) compares the database with it.

``[audit] checkpoint_sinks`` chooses where, any of:

``file``
    one JSON line per checkpoint appended (and fsynced) to ``[audit]
    checkpoint_file``, which must lie outside ``state_path``: ship it to
    another host, or make it append-only (``chattr +a``);
``syslog``
    the same line, tagged ``reaper-audit-checkpoint``, to ``[audit]
    checkpoint_syslog_address`` (facility ``auth``), for the host's log
    shipping;
``notification``
    an oslo.messaging notification ``reaper.audit.checkpoint`` on ``[audit]
    checkpoint_topics``, whose payload is that JSON object, for a SIEM that
    keeps the cloud's notifications.

Each publication carries the signed body and its signature, so it proves
itself without the database. A sink that fails is logged and the next
checkpoint is published anyway: the database already holds the checkpoint,
and ``verify --against`` warns about a checkpoint missing from a sink.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from oslo_config import cfg

from reaper import canonical, log
from reaper.audit.checkpoint import Checkpoint

LOG = log.get(__name__)

#: What a published checkpoint says it is, and the syslog tag and event type.
TYPE = "reaper-audit-checkpoint/published/1"
TAG = "reaper-audit-checkpoint"
EVENT_TYPE = "reaper.audit.checkpoint"
SINKS = ("file", "syslog", "notification")


class SinkError(ValueError):
    """A sink the configuration asks for cannot be set up (one line, naming the option)."""


def published(cp: Checkpoint) -> dict[str, Any]:
    """The JSON object every sink publishes: enough to verify the checkpoint alone."""
    return {
        "type": TYPE,
        "number": cp.number,
        "seq": cp.seq,
        "head": cp.head,
        "digest": cp.digest,
        "key_id": cp.key_id,
        "body": cp.body,
        "signature": cp.signature,
    }


def line(cp: Checkpoint) -> str:
    return canonical.dumps(published(cp)).decode("utf-8")


class Sink(Protocol):
    name: str

    def publish(self, cp: Checkpoint) -> None: ...


class FileSink:
    """Appends one line per checkpoint and fsyncs it before returning."""

    name = "file"

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def publish(self, cp: Checkpoint) -> None:
        data = (line(cp) + "\n").encode("utf-8")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)


class _SyslogHandler(logging.handlers.SysLogHandler):
    """A syslog handler that lets a failed send be known, instead of printing it."""

    def handleError(self, record: logging.LogRecord) -> None:
        raise  # called from emit's except block: re-raises what failed


class SyslogSink:
    """Sends the line to syslog: a socket path (``/dev/log``), or ``host:port`` over UDP."""

    name = "syslog"

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        udp = not address.startswith("/") and bool(host) and port.isdigit()
        self.address = address
        self._target: str | tuple[str, int] = (host, int(port)) if udp else address
        self._handler: _SyslogHandler | None = None
        self._lock = threading.Lock()

    def publish(self, cp: Checkpoint) -> None:
        record = logging.LogRecord(TAG, logging.INFO, __file__, 0, "%s", (line(cp),), None)
        with self._lock:
            if self._handler is None:  # connected on first use: syslogd may start after us
                handler = _SyslogHandler(
                    address=self._target, facility=logging.handlers.SysLogHandler.LOG_AUTH
                )
                handler.ident = f"{TAG}: "
                self._handler = handler
            try:
                self._handler.emit(record)
            except Exception:
                self._handler.close()
                self._handler = None  # reconnect next time
                raise


class NotificationSink:
    """Emits ``reaper.audit.checkpoint`` at INFO through oslo.messaging's notifier."""

    name = "notification"

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        import oslo_messaging

        self._notifier = oslo_messaging.Notifier(
            oslo_messaging.get_notification_transport(conf),
            publisher_id=f"reaper.{conf.host}",
            driver="messagingv2",
            topics=list(conf.audit.checkpoint_topics),
            # A broker that is down must not hold the checkpoint's thread for ever.
            retry=3,
        )

    def publish(self, cp: Checkpoint) -> None:
        self._notifier.info({}, EVENT_TYPE, published(cp))


class Publisher:
    """Publishes each checkpoint to every configured sink; a failing sink stops none."""

    def __init__(self, sinks: Sequence[Sink] = ()) -> None:
        self.sinks = tuple(sinks)

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> Publisher:
        """The sinks of ``[audit] checkpoint_sinks``; raises :class:`SinkError` if misconfigured."""
        chosen = list(dict.fromkeys(conf.audit.checkpoint_sinks))
        sinks: list[Sink] = []
        for kind in chosen:
            if kind == "file":
                sinks.append(FileSink(_checkpoint_file(conf)))
            elif kind == "syslog":
                sinks.append(SyslogSink(conf.audit.checkpoint_syslog_address))
            elif kind == "notification":
                sinks.append(NotificationSink(conf))
        if not sinks:
            log.advise(
                LOG,
                "audit checkpoints are published nowhere but the database: whoever holds "
                "reaper's database login can cut the trail's tail unnoticed; set [audit] "
                "checkpoint_sinks (see doc/operations.md)",
            )
        return cls(sinks)

    def publish(self, cp: Checkpoint) -> list[str]:
        """Publish ``cp``; returns the names of the sinks that failed (each is logged)."""
        failed = []
        for sink in self.sinks:
            try:
                sink.publish(cp)
            except Exception as exc:
                failed.append(sink.name)
                LOG.error(
                    "could not publish an audit checkpoint",
                    sink=sink.name,
                    number=cp.number,
                    error=f"{type(exc).__name__}: {exc}",
                )
        return failed


def _checkpoint_file(conf: cfg.ConfigOpts) -> str:
    path = conf.audit.checkpoint_file
    if not path:
        raise SinkError(
            "[audit] checkpoint_sinks includes 'file' but [audit] checkpoint_file is not set; "
            "give a path outside state_path"
        )
    state = os.path.realpath(conf.state_path)
    real = os.path.realpath(path)
    if os.path.commonpath([state, real]) == state:
        raise SinkError(
            f"[audit] checkpoint_file {path} is inside state_path {conf.state_path}: whoever "
            "can rewrite the database there can rewrite it too; choose a path outside it"
        )
    return path

"""Where the notification bus is, in kombu's spelling, for what reaper does beside oslo.messaging.

oslo.messaging hides its connection; the queue checks (``Listener.wait_bound``,
``reaper queue declare``, the dead-letter reader, the Barbican check) talk to
RabbitMQ themselves, through kombu, at the URL reaper's notifications come from.
"""

from __future__ import annotations

from oslo_config import cfg


def broker_url(conf: cfg.ConfigOpts) -> str | None:
    """The notification transport URL in kombu's spelling (first host only)."""
    try:
        url = conf.oslo_messaging_notifications.transport_url or conf.transport_url
    except cfg.NoSuchOptError:
        url = None
    if not url or not url.startswith("rabbit://"):
        return None
    rest = url.split("://", 1)[1]
    hosts, _, vhost = rest.partition("/")
    return f"amqp://{hosts.split(',')[0]}/{vhost}"

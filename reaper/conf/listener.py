"""``[listener]``: the notification bus reaper listens on and how it persists what arrives."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "listener"


OPTS = [
    cfg.StrOpt(
        "exchange",
        default="keystone",
        help="Exchange on which Keystone publishes its notifications.",
    ),
    cfg.ListOpt(
        "topics",
        default=["notifications"],
        help="Notification topics to listen on. Keystone publishes on the topics of its "
        "[oslo_messaging_notifications] section; 'notifications' is its default.",
    ),
    cfg.StrOpt(
        "pool",
        default="reaper",
        help="Listener pool name. reaper gets its own queue with this name, so it never "
        "competes with other consumers (such as ceilometer) for the shared queue, while "
        "several reaper controllers with the same pool share the work.",
    ),
    cfg.BoolOpt(
        "dead_letter",
        default=True,
        help="Declare the pool queue with a dead-letter exchange, so that messages the "
        "message driver cannot decode (which it would drop) move to the queue "
        "'<pool>.dead-letter', where reaper records the hash, size and headers of each in "
        "the audit trail, counts it, and acts on none. A pool queue declared by an older "
        "reaper keeps working without it until 'reaper queue declare' upgrades it (see "
        "doc/operations.md).",
    ),
    cfg.IntOpt(
        "executor_threads",
        default=4,
        min=1,
        help="Number of threads that persist incoming notifications.",
    ),
    cfg.IntOpt(
        "batch_size",
        default=256,
        min=1,
        help="Most notifications persisted in one transaction. A batch is handed over when "
        "it is full or batch_timeout has passed, so a busy bus gets large batches (one "
        "commit for many notifications) and a quiet one gets no added delay beyond "
        "batch_timeout.",
    ),
    cfg.FloatOpt(
        "batch_timeout",
        default=0.05,
        min=0.0,
        help="Seconds to wait for a batch to fill before persisting what has arrived.",
    ),
    cfg.FloatOpt(
        "store_retry_initial",
        default=1.0,
        min=0.01,
        help="While the store (the database) is unavailable, the listener holds the batch "
        "it was handed, unacknowledged, and tries to record it again after this many "
        "seconds, then after twice as long each time, up to store_retry_max. Nothing is "
        "requeued meanwhile, so an outage does not use up a quorum queue's delivery limit.",
    ),
    cfg.FloatOpt(
        "store_retry_max",
        default=30.0,
        min=0.1,
        help="Longest wait, in seconds, between two attempts to record a held batch while "
        "the store is unavailable: how long after the store is back the listener may take "
        "to notice.",
    ),
    cfg.FloatOpt(
        "store_hold_limit",
        default=900.0,
        min=0.0,
        help="Longest time, in seconds, a batch is held unacknowledged while the store is "
        "unavailable; it is then requeued (one redelivery) and held again when it comes "
        "back. Keep it below RabbitMQ's consumer_timeout (30 minutes by default), past "
        "which the broker closes the channel and redelivers everything unacknowledged. "
        "0 holds until the store is back. A stopping listener requeues what it holds at "
        "once.",
    ),
    cfg.IntOpt(
        "max_payload_bytes",
        default=65536,
        min=1024,
        help="Notifications whose serialized payload is larger than this are rejected and "
        "audited instead of parsed. Keystone's identity notifications are a few KiB.",
    ),
    cfg.StrOpt(
        "barbican_listener_queue",
        default="",
        help="The queue of Barbican's keystone listener on this broker (the pool_name of "
        "Barbican's [keystone_notifications]). reaper cannot list a deleted project's "
        "secrets, and that listener is what deletes them, so at start the controller "
        "looks for this queue and a consumer on it, and reports what it found in its log "
        "and in reaper_barbican_keystone_listener{state}. Empty: the state is 'unknown' "
        "wherever Barbican runs (a listener without a pool shares the notifications "
        "queue with every other consumer, where it cannot be told apart).",
    ),
]

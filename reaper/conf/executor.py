"""``[executor]``: how fast reaper acts, how often it retries and confirms."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "executor"


OPTS = [
    cfg.IntOpt(
        "compute_concurrency",
        default=8,
        min=1,
        help="Maximum number of concurrent requests to the Compute service from the whole "
        "controller (every worker, discovery, steps and confirmations; with "
        "shared_concurrency, from every controller of the cloud). The other "
        "*_concurrency options work the same way.",
    ),
    cfg.IntOpt(
        "block_storage_concurrency",
        default=8,
        min=1,
        help="Maximum number of concurrent requests to the Block Storage service.",
    ),
    cfg.IntOpt(
        "network_concurrency",
        default=8,
        min=1,
        help="Maximum number of concurrent requests to the Networking service.",
    ),
    cfg.IntOpt(
        "image_concurrency",
        default=4,
        min=1,
        help="Maximum number of concurrent requests to the Image service.",
    ),
    cfg.IntOpt(
        "identity_concurrency",
        default=4,
        min=1,
        help="Maximum number of concurrent requests to the Identity service.",
    ),
    cfg.IntOpt(
        "retry_attempts",
        default=8,
        min=1,
        help="Attempts per step before a transient failure (5xx, 409 in use, 429, connection "
        "error) is reported as failed.",
    ),
    cfg.IntOpt(
        "conflict_retry_budget",
        default=40,
        min=1,
        help="Attempts a step may spend, over every run of its plan, on conflicts (409, a "
        "volume still in use) before it is blocked: the tombstone is then held with the "
        "blocking reason (reaper tombstone show) instead of being retried for ever, "
        "counted in reaper_steps_blocked_total and logged as an error. Resolve the "
        "conflict, then 'reaper approve' the tombstone.",
    ),
    cfg.FloatOpt(
        "retry_max_wait",
        default=30.0,
        min=0.1,
        help="Upper bound in seconds of the exponential backoff between attempts.",
    ),
    cfg.FloatOpt(
        "retry_after_max",
        default=600.0,
        min=1.0,
        help="Longest pause in seconds that one 429 or 503 answer's Retry-After (seconds or "
        "an HTTP date) imposes on new requests to its service. The pause applies to the "
        "whole controller (every worker, reads and writes); a longer Retry-After is cut to "
        "this with a warning in the log.",
    ),
    cfg.FloatOpt(
        "throttle_pause",
        default=1.0,
        min=0.0,
        help="Seconds new requests to a service are paused after a 429 or 503 answer that "
        "has no Retry-After.",
    ),
    cfg.IntOpt(
        "throttle_recover_after",
        default=10,
        min=1,
        help="A 429 or 503 halves the number of concurrent requests the controller sends to "
        "that service (down to 1); this many successful answers in a row raise it by one "
        "again, up to the service's *_concurrency.",
    ),
    cfg.BoolOpt(
        "shared_concurrency",
        default=True,
        help="With a PostgreSQL or MySQL/MariaDB store, the *_concurrency caps are the "
        "cloud's: every controller on that store takes its requests' slots from the same "
        "caps (slots leased in the store's budget_slots table). With SQLite, or when "
        "false, each controller process has the caps to itself.",
    ),
    cfg.FloatOpt(
        "concurrency_lease",
        default=30.0,
        min=3.0,
        help="Seconds a controller's cloud-wide request slots stay its own without being "
        "renewed (renewed every third of it while it runs). A controller that dies frees "
        "its slots after this long; controllers' clocks must agree to well within it.",
    ),
    cfg.IntOpt(
        "resume_recheck_after",
        default=300,
        min=0,
        help="Seconds. A controller that stopped while executing a plan resumes it on its "
        "next claim; when the plan was made less than this long ago, the run goes on "
        "from the plan's own discovery, as the run that made it would have (deletions "
        "of what vanished meanwhile still end as already gone). An older plan, an "
        "approved one, failed steps tried again and steps whose grace period ended are "
        "first re-checked against a fresh discovery of the tombstone's resources. 0: "
        "every resumed run re-checks.",
    ),
    cfg.FloatOpt(
        "confirm_interval",
        default=1.0,
        min=0.1,
        help="Seconds from the end of one listing that confirms asynchronous deletions of "
        "a type to the start of the next.",
    ),
    cfg.FloatOpt(
        "confirm_max_interval",
        default=4.0,
        min=0.1,
        help="While a type's confirmation listings find nothing gone, the gap between them "
        "grows by half each time up to this many seconds, so a slow service is not asked "
        "again and again while it works; it comes down a step with each listing that "
        "confirms something. Also the longest a type's listing waits for more of its "
        "deletions still to be sent.",
    ),
    cfg.IntOpt(
        "server_delete_window",
        default=0,
        min=0,
        help="Servers of one plan whose deletion is in progress at once, from the DELETE "
        "until a listing confirms the server gone; the next server's DELETE is sent when "
        "one is confirmed gone. Nova answers a DELETE at once and then does the work "
        "(unbinding ports in Neutron, detaching volumes, placement), for every server it "
        "was handed at the same time: on a small cloud, handing it all of a tenant's "
        "servers at once can make each take longer. 0 (the default): no window, "
        "compute_concurrency alone bounds the DELETEs in flight. Measured by the cleanup "
        "benchmark (25 servers with volumes, 2-core testbed, load 5-8), windows of 2, 4 "
        "and 8 took 70, 33-39 and 36 s where no window took 22-27 s: each server holds its "
        "place until a listing confirms it gone, and Nova was not slowed by the rest. Try "
        "one only where Nova is seen to slow down under a tenant's servers.",
    ),
    cfg.FloatOpt(
        "confirm_timeout",
        default=600.0,
        min=1.0,
        help="Seconds after which a resource that is still listed after its deletion was "
        "accepted is reported as failed.",
    ),
]

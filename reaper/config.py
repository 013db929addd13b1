"""reaper's configuration: the options of every group, and how a ``ConfigOpts`` is built.

There is no global ``CONF``: every entry point calls :func:`make_conf` and
passes the resulting object into the constructors that need it (the aodh
way), so tests build as many independent configurations as they like.

The options themselves live in :mod:`reaper.conf`, one module per group, in
the pipeline's order: ``[DEFAULT]`` (what reaper may do, where its state
lives), ``[listener]`` (the notification bus), ``[identity]`` (the ids it
accepts), ``[store]`` (the database), ``[executor]`` (how fast it acts),
``[sweep]`` (finding missed deletions), ``[api]`` (health and metrics),
``[audit]`` (the tamper-evident trail) and ``[service_credentials]`` (how
reaper reaches the cloud). This module is their public face:
:func:`list_opts` feeds ``oslo-config-generator`` through the
``oslo.config.opts`` entry point, and its order is the sample's order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import ModuleType

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

import reaper
from reaper.conf import (
    api,
    audit,
    default,
    executor,
    identity,
    listener,
    service_credentials,
    store,
    sweep,
)

SERVICE_CREDENTIALS_GROUP = service_credentials.GROUP

#: The option groups reaper registers itself, in the sample's order;
#: ``[service_credentials]`` follows them (keystoneauth registers part of it).
GROUP_MODULES: tuple[ModuleType, ...] = (
    default,
    listener,
    identity,
    store,
    executor,
    sweep,
    api,
    audit,
)

# The lists by their former names, for the callers and tests that read them.
DEFAULT_OPTS = default.OPTS
LISTENER_OPTS = listener.OPTS
IDENTITY_OPTS = identity.OPTS
STORE_OPTS = store.OPTS
EXECUTOR_OPTS = executor.OPTS
SWEEP_OPTS = sweep.OPTS
API_OPTS = api.OPTS
AUDIT_OPTS = audit.CHECKPOINT_OPTS
AUDIT_PUBLISH_OPTS = audit.PUBLISH_OPTS
CREDENTIAL_OPTS = service_credentials.OPTS
DOCUMENTED_AUTH_TYPES = service_credentials.DOCUMENTED_AUTH_TYPES

GROUPS: dict[str, list[cfg.Opt]] = {module.GROUP: module.OPTS for module in GROUP_MODULES}


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    """Every option reaper registers, for ``oslo-config-generator``."""
    return [
        *[(None if name == "DEFAULT" else name, list(opts)) for name, opts in GROUPS.items()],
        (SERVICE_CREDENTIALS_GROUP, service_credentials.sample_opts()),
    ]


def register_opts(conf: cfg.ConfigOpts) -> cfg.ConfigOpts:
    """Register every option a run reads.

    ``[service_credentials]`` gets reaper's own options, the session's and
    ``auth_type``/``auth_section`` only: registering a plugin's options
    here as well would make keystoneauth's loader, which registers the
    configured plugin's options itself, fail with ``DuplicateOptError``.
    """
    for group, opts in list_opts():
        if group != SERVICE_CREDENTIALS_GROUP:
            conf.register_opts(opts, group=group)
    conf.register_opts(CREDENTIAL_OPTS, group=SERVICE_CREDENTIALS_GROUP)
    ks_loading.register_session_conf_options(conf, SERVICE_CREDENTIALS_GROUP)
    ks_loading.register_auth_conf_options(conf, SERVICE_CREDENTIALS_GROUP)
    return conf


def make_conf(
    argv: Sequence[str] | None = None,
    config_files: Sequence[str] | None = None,
    *,
    prog: str = "reaper",
) -> cfg.ConfigOpts:
    """A fresh, fully registered configuration, parsed from ``argv`` and files.

    With no ``config_files`` and no ``--config-file`` in ``argv``, oslo.config
    looks in its usual places (``/etc/reaper/reaper.conf``, ``~/.reaper/``...)
    and, finding nothing, leaves every option at its embedded default.
    """
    conf = register_opts(cfg.ConfigOpts())
    conf(
        list(argv or []),
        project="reaper",
        prog=prog,
        version=reaper.version_string(),
        default_config_files=list(config_files) if config_files is not None else None,
    )
    return conf


def store_url(conf: cfg.ConfigOpts) -> str:
    """The database URL, the embedded SQLite file when none is configured."""
    if conf.store.connection:
        return conf.store.connection
    return "sqlite:///" + os.path.join(conf.state_path, "reaper.sqlite")

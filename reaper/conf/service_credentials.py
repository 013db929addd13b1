"""``[service_credentials]``: how reaper reaches the cloud.

:data:`OPTS` are reaper's own; keystoneauth registers its session and plugin
options itself at run time, and :func:`sample_opts` lists them for the sample.
"""

from __future__ import annotations

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = "service_credentials"


OPTS = [
    cfg.StrOpt(
        "cloud",
        help="Name of a cloud in clouds.yaml to use instead of the keystoneauth options of "
        "this section. The credentials must be an admin's, because a token scoped to a "
        "deleted project cannot exist.",
    ),
    cfg.StrOpt(
        "region_name",
        help="Region in which reaper acts.",
    ),
    cfg.StrOpt(
        "interface",
        default="public",
        choices=("public", "internal", "admin"),
        help="Endpoint interface reaper uses from the catalog.",
    ),
    cfg.FloatOpt(
        "keystone_retry_max_wait",
        default=60.0,
        min=1.0,
        help="Longest wait, in seconds, between two tries of Keystone while it cannot be "
        "reached or refuses reaper's credentials. Meanwhile the controller claims no "
        "tombstone (none is given up) and /healthz says why; it resumes at most this long "
        "after Keystone answers again.",
    ),
]


#: The keystoneauth plugins doc/install.md documents, whose options the sample lists.
DOCUMENTED_AUTH_TYPES = ("password", "v3applicationcredential")


def sample_opts() -> list[cfg.Opt]:
    """[service_credentials] as the sample config shows it: reaper's, the session's, the plugins'.

    Only for ``oslo-config-generator``: at run time keystoneauth registers the
    options of whichever ``auth_type`` is configured, just before it reads
    them (see :func:`reaper.config.register_opts`), the way aodh and ceilometer do. The
    options of the documented plugins are listed once each.
    """
    opts: list[cfg.Opt] = [
        *OPTS,
        *ks_loading.get_session_conf_options(),
        *ks_loading.get_auth_common_conf_options(),
    ]
    seen = {o.dest for o in opts}
    for auth_type in DOCUMENTED_AUTH_TYPES:
        for opt in ks_loading.get_auth_plugin_conf_options(auth_type):
            if opt.dest not in seen:
                seen.add(opt.dest)
                opts.append(opt)
    return opts

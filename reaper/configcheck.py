"""What is wrong with a reaper configuration, one line per problem.

The static half (:func:`file_problems`) reads the configuration files
themselves, the way ``oslo-config-validator`` does: the sample data of the
``oslo-config-generator`` namespaces says which sections and options exist,
and the validator's own predicates decide what is unknown or deprecated. On
top of it reaper adds what the validator cannot know: which file a line is
in, the option a typo was meant to be, a value its option's type refuses
(``compute_concurrency = lots``), and a missing ``transport_url`` (without
one oslo.messaging quietly connects as guest to localhost).

It needs no network, so the controller runs it before anything else and
refuses to start on an error; ``reaper config check`` runs it and then
the live checks (a token, the store, the policies).

Invariant: an option reaper does not know is always an error, because a
misspelt ``protected_project_ids`` silently removes protection.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oslo_config import cfg, generator, validator

if TYPE_CHECKING:
    from reaper.cleanup.house import House

#: The ``oslo.config.opts`` namespaces whose options a reaper.conf may set
#: (the ones etc/reaper/reaper-config-generator.conf documents).
NAMESPACES = ("reaper", "oslo.messaging")

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing to fix: where (file, ``[section] option``) and what."""

    where: str
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        prefix = "" if self.severity == ERROR else f"{self.severity}: "
        return prefix + (f"{self.where}: {self.message}" if self.where else self.message)


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == ERROR]


@functools.lru_cache(maxsize=1)
def _known() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The validator's opt data of :data:`NAMESPACES`, and group -> name -> ``cfg.Opt``."""
    listing = generator._list_opts(list(NAMESPACES))
    opt_data = generator._generate_machine_readable_data(
        generator._get_groups(listing), cfg.ConfigOpts()
    )
    opts: dict[str, dict[str, Any]] = {}
    for _namespace, groups in listing:
        for group, group_opts in groups:
            name = "DEFAULT" if group is None else str(getattr(group, "name", group))
            for opt in group_opts:
                opts.setdefault(name, {})[opt.dest] = opt
    return opt_data, opts


def config_files(conf: cfg.ConfigOpts) -> list[str]:
    """The files ``conf`` was read from, in order (``--config-file``, then ``--config-dir``)."""
    files = list(conf.config_file or [])
    for directory in conf.config_dir or []:
        if os.path.isdir(directory):
            files += sorted(
                os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(".conf")
            )
    return files


def file_problems(conf: cfg.ConfigOpts) -> list[Problem]:
    """Unknown sections and options, values their type refuses, a missing transport_url."""
    files = config_files(conf)
    found: list[Problem] = []
    if not files:
        found.append(
            Problem(
                "",
                "no configuration file found (looked for /etc/reaper/reaper.conf); "
                "every option has its default",
                WARNING,
            )
        )
    transport = False
    for path in files:
        sections: dict[str, dict[str, list[str]]] = {}
        try:
            cfg.ConfigParser(path, sections).parse()
        except (OSError, cfg.ParseError) as exc:
            found.append(Problem(path, f"cannot be read: {exc}"))
            continue
        found += _section_problems(path, sections)
        for section in ("DEFAULT", "oslo_messaging_notifications"):
            if any(v for v in sections.get(section, {}).get("transport_url", [])):
                transport = True
    if not transport:
        found.append(
            Problem(
                f"{files[-1] if files else 'reaper.conf'}: [DEFAULT] transport_url",
                "not set, so the controller would listen as guest on localhost; set it to "
                "the broker Keystone notifies (rabbit://USER:PASS@HOST:5672/)",
            )
        )
    return found


def _section_problems(path: str, sections: Mapping[str, Mapping[str, list[str]]]) -> list[Problem]:
    opt_data, opts = _known()
    found: list[Problem] = []
    for section, options in sections.items():
        if section in validator.KNOWN_BAD_GROUPS:
            continue
        known = dict(opts.get(section, {}))
        plugin, problem = _plugin_opts(options.get("auth_type", [""])[-1])
        if problem:
            found.append(Problem(f"{path}: [{section}] auth_type", problem))
        known.update(plugin)
        if section not in opt_data["options"]:
            hint = _did_you_mean(section, opt_data["options"])
            found.append(Problem(f"{path}: [{section}]", f"unknown section{hint}"))
            continue
        for raw in options:
            name = raw.replace("-", "_")
            where = f"{path}: [{section}] {raw}"
            if validator._validate_deprecated_opt(section, raw, opt_data):
                found.append(Problem(where, "is deprecated", WARNING))
            elif name not in known and not validator._validate_opt(section, raw, opt_data):
                hint = _did_you_mean(name, known)
                found.append(Problem(where, f"unknown option{hint}"))
            elif name in known:
                found += _value_problems(where, known[name], options[raw])
    return found


def _value_problems(where: str, opt: Any, values: Sequence[str]) -> list[Problem]:
    found = []
    for value in values:
        if "$" in value:  # substituted from another option; checked where that one is set
            continue
        try:
            opt.type(value)
        except (ValueError, TypeError) as exc:
            found.append(Problem(where, f"invalid value {value!r}: {exc}"))
    return found


def _plugin_opts(auth_type: str) -> tuple[dict[str, Any], str]:
    """The options keystoneauth registers for ``auth_type`` (none when unset), or what is wrong."""
    if not auth_type:
        return {}, ""
    from keystoneauth1 import loading

    try:
        return {o.dest: o for o in loading.get_auth_plugin_conf_options(auth_type)}, ""
    except Exception:
        names = sorted(loading.get_available_plugin_names())
        return {}, f"{auth_type!r} is not a keystoneauth plugin{_did_you_mean(auth_type, names)}"


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def store_problems(conf: cfg.ConfigOpts) -> list[Problem]:
    """The store is reachable and at this reaper's schema; creates nothing.

    A store that does not exist yet, or is at an older schema, is only a
    warning: the controller creates or upgrades it when it starts.
    """
    from reaper import config
    from reaper.store import StoreError, migrate
    from reaper.store.database import Database
    from reaper.store.engine import sqlite_path

    url = config.store_url(conf)
    where = "[store] connection" if conf.store.connection else "[DEFAULT] state_path"
    path = sqlite_path(url)
    if path is not None and not os.path.exists(path):
        parent = os.path.dirname(os.path.abspath(path))
        writable = os.access(_existing_ancestor(parent), os.W_OK)
        if not writable:
            return [Problem(where, f"{parent} cannot be created or written by this user")]
        return [Problem(where, f"{path} does not exist yet; the controller creates it", WARNING)]
    try:
        db = Database(url, connect_timeout=conf.store.connect_timeout)
    except StoreError as exc:
        return [Problem(where, str(exc))]
    try:
        with db.read("read the schema version") as conn:
            current = migrate.current_revision(conn)
        head = migrate.head_revision()
        migrate._check_known(current)
    except StoreError as exc:
        return [Problem(where, f"{db.safe_url}: {exc}")]
    finally:
        db.dispose()
    if current != head:
        return [
            Problem(
                where,
                f"{db.safe_url} is at schema {current or 'none'}, this reaper's is {head}; "
                "the controller upgrades it when it starts",
                WARNING,
            )
        ]
    return []


def _existing_ancestor(path: str) -> str:
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def policy_problems(conf: cfg.ConfigOpts) -> list[Problem]:
    """The policies the controller would load, loaded the same way."""
    from reaper.policy import PolicyError, configured_policy_paths, load_policies

    try:
        load_policies(configured_policy_paths(conf))
    except PolicyError as exc:
        return [Problem("[DEFAULT] policy_paths", str(error)) for error in exc.errors]
    return []


def protection_warnings(conf: cfg.ConfigOpts, house: House | None = None) -> list[Problem]:
    """An empty protected_project_ids is legal, and usually an oversight.

    Reaper's own project and the admin project are protected anyway
    (:func:`reaper.cleanup.house.house`); the warning names them, with their
    ids when Keystone was asked (``house``).
    """
    if conf.protected_project_ids:
        return []
    return [
        Problem(
            "[DEFAULT] protected_project_ids",
            f"is empty: only {always_protected(conf, house)} are always protected, besides "
            "what the policies protect; list the service project and every other project "
            "reaper must never touch",
            WARNING,
        )
    ]


def always_protected(conf: cfg.ConfigOpts, house: House | None = None) -> str:
    """``reaper's own project (ID) and the admin project ('admin' in domain 'Default', ID)``.

    Without ``house`` (Keystone not asked, or not answering) the ids are left out.
    """
    from reaper.cleanup.house import AdminProject

    admin = AdminProject.from_conf(conf)
    if house is None:
        return f"reaper's own project and the admin project ({admin})"
    admin_id = house.admin or "not in Keystone"
    return f"reaper's own project ({house.own}) and the admin project ({admin}, {admin_id})"


def broker_problems(conf: cfg.ConfigOpts, *, timeout: float = 5.0) -> list[Problem]:
    """The notification broker answers (one connection, no retry storm)."""
    import kombu
    import oslo_messaging

    from reaper.events.listener import broker_url

    oslo_messaging.get_notification_transport(conf).cleanup()  # registers the options
    url = broker_url(conf)
    if url is None:
        return []
    option = (
        "[oslo_messaging_notifications] transport_url"
        if conf.oslo_messaging_notifications.transport_url
        else "[DEFAULT] transport_url"
    )
    host = url.split("@")[-1].split("/")[0]
    try:
        with kombu.Connection(url, connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:
        return [Problem(option, f"broker {host} cannot be reached: {exc}")]
    return []

"""Check a configuration file against the options a program registers: ``python confcheck.py``.

Every section and option of the file must be registered by the
``oslo.config.opts`` namespaces given (the ones ``oslo-config-generator``
documents), and every value must parse with its option's type (a port, a
bool, a choice...). A keystoneauth plugin's options count in a section that
names the plugin with ``auth_type``, as keystoneauth's loader registers them
there. Prints one problem per line and exits 1 when there are any.

Standalone (the standard library and oslo.config only), so that the same
check runs in reaper's venv for reaper.conf and in the testbed's services'
venv for keystone.conf::

    python tests/confcheck.py --namespace keystone --namespace oslo.messaging keystone.conf
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Sequence


def registered(namespaces: Sequence[str]) -> dict[str, dict[str, object]]:
    """group -> option name -> ``cfg.Opt``, for every option of ``namespaces``."""
    from oslo_config import generator

    groups: dict[str, dict[str, object]] = {}
    for _namespace, listing in generator._list_opts(namespaces):
        for group, opts in listing:
            name = "DEFAULT" if group is None else getattr(group, "name", group)
            for opt in opts:
                groups.setdefault(str(name), {})[opt.dest] = opt
    return groups


def problems(path: str, namespaces: Sequence[str]) -> list[str]:
    """What is wrong with the file at ``path``; empty when every option is known and parses."""
    from oslo_config import cfg

    sections: dict[str, dict[str, list[str]]] = {}
    try:
        cfg.ConfigParser(path, sections).parse()
    except cfg.ParseError as exc:
        return [f"{path}: cannot be parsed: {exc}"]
    groups = registered(namespaces)
    found: list[str] = []
    for section, options in sections.items():
        auth_type = options.get("auth_type", [None])[-1]
        if not auth_type:
            continue
        try:
            plugin = _plugin_opts(auth_type)
        except Exception as exc:
            found.append(f"[{section}] auth_type = {auth_type}: {exc}")
            continue
        # The plugin's options are what its loader needs; a sample may list some anyway.
        groups.setdefault(section, {}).update(plugin)
        for opt in plugin.values():
            if getattr(opt, "required", False) and not _given(opt, options):
                found.append(f"[{section}] needs {opt.dest} (auth_type = {auth_type})")
    conf = cfg.ConfigOpts()
    for group, opts in groups.items():
        for opt in opts.values():
            if getattr(opt, "required", False):
                # Required only once a plugin is chosen, which is checked above.
                opt = copy.copy(opt)
                opt.required = False
            try:
                conf.register_opt(opt, group=None if group == "DEFAULT" else group)
            except cfg.DuplicateOptError:
                continue
    conf([], project="confcheck", default_config_files=[path], use_env=False)
    for section, options in sections.items():
        known = groups.get(section)
        if known is None:
            found.append(f"[{section}] is not a section the program registers")
            continue
        for raw_name in options:
            name = raw_name.replace("-", "_")
            if name not in known:
                found.append(f"[{section}] {raw_name} is not an option the program registers")
                continue
            try:
                group = conf if section == "DEFAULT" else conf[section]
                group[name]
            except (ValueError, cfg.ConfigFileValueError) as exc:
                found.append(f"[{section}] {raw_name}: {exc}")
    return found


def _given(opt: object, options: dict[str, list[str]]) -> bool:
    names = {n.replace("-", "_") for n in options}
    return getattr(opt, "dest", None) in names


def _plugin_opts(auth_type: str) -> dict[str, object]:
    """The options keystoneauth's loader registers for plugin ``auth_type``; raises if unknown."""
    from keystoneauth1 import loading

    return {o.dest: o for o in loading.get_auth_plugin_conf_options(auth_type)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", action="append", required=True)
    parser.add_argument("file")
    args = parser.parse_args(argv)
    found = problems(args.file, args.namespace)
    for problem in found:
        print(problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

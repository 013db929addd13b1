"""reaper: cleans up what OpenStack tenants leave behind once Keystone deletes them."""

from __future__ import annotations


def version_string() -> str:
    """The installed version, from pbr's metadata (git describe in a checkout)."""
    import pbr.version

    try:
        return pbr.version.VersionInfo("reaper").version_string()
    except Exception:  # not installed: a bare checkout on sys.path
        return "0.0.0.dev0"

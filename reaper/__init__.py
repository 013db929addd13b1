"""reaper: cleans up what OpenStack tenants leave behind once Keystone deletes them."""

from __future__ import annotations

import warnings

# oslo.messaging imports oslo.service, which imports eventlet, which announces its
# own deprecation on every start. reaper runs oslo.messaging's threading executor
# and never uses eventlet; the warning would only teach operators to ignore warnings.
warnings.filterwarnings("ignore", message="\\s*Eventlet is deprecated")
# eventlet's green DNS imports dnspython, whose DNSSEC module names cryptography's DSA
# key types; cryptography >= 48 warns about DSA on that import. reaper verifies no DNSSEC.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"dns\.")


def version_string() -> str:
    """The installed version, from pbr's metadata (git describe in a checkout)."""
    import pbr.version

    try:
        return pbr.version.VersionInfo("reaper").version_string()
    except Exception:  # not installed: a bare checkout on sys.path
        return "0.0.0.dev0"

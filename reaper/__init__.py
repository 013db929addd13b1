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
    """The installed package's version, exactly as pip shows it (``0.1.0.dev12``).

    Read from the installed metadata (pbr wrote it from git describe), not
    recomputed: ``reaper --version`` and ``reaper-controller --version`` must
    name the build an operator reports, dev suffix included.
    """
    from importlib import metadata

    try:
        return metadata.version("reaper")
    except metadata.PackageNotFoundError:  # not installed: a bare checkout on sys.path
        return "0.0.0.dev0"

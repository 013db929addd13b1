"""Secrets out of what the audit trail keeps: before-images, extras and initiators.

Masked exactly as the logs mask them (:func:`reaper.log.redact`), but only
where a key or a string could hold a secret, because every server's
attributes pass through here on every append.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reaper import log, sealing

#: Anything :func:`reaper.log.redact` could mask contains one of these; the
#: rest (nearly every attribute) skips its costly regexes.
_SUSPECT = re.compile(
    r"pass|pswd|secret|token|key|auth|credential|signature|cookie|configfile|://|gAAAA",
    re.IGNORECASE,
)


def scrub(value: Any, key: str | None = None) -> Any:
    """``value`` with secrets masked exactly as the logs mask them, but fast.

    Keys in :data:`reaper.sealing.ANYWHERE` (``user_data``...) are sealed to
    their fingerprint instead, wherever they appear: no pattern sees them.

    Before-images and extras are exported to auditors, so no password or
    token may survive in them; redacting every string of every server's
    attributes would cost more than the append itself.
    """
    if key is not None and key in sealing.ANYWHERE:
        return sealing.seal_value(value)  # a secret by what it is, whatever it looks like
    if isinstance(value, Mapping):
        return {str(k): scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    suspect_key = key is not None and _SUSPECT.search(key) is not None
    if suspect_key or (isinstance(value, str) and _SUSPECT.search(value)):
        return log.redact(value, key)
    return value

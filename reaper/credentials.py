"""Where reaper's cloud credentials come from, and what to tell an operator when they fail.

The first of these that is set is used, and nothing of the others:

1. ``--os-cloud NAME`` (the ``reaper`` command line);
2. ``OS_CLOUD``: a cloud of clouds.yaml, as for the ``openstack`` client;
3. ``OS_AUTH_URL`` and the other ``OS_*`` variables an openrc file exports;
4. ``[service_credentials] cloud = NAME``: a cloud of clouds.yaml;
5. ``[service_credentials] auth_type`` and that keystoneauth plugin's options.

The command line beats the environment, which beats the configuration file,
so an operator's ``OS_CLOUD`` is never silently ignored because
``/etc/reaper/reaper.conf`` names a cloud. Setting both ``cloud`` and
``auth_type`` in ``[service_credentials]`` is refused: which one was meant
cannot be guessed. :func:`resolve` decides, without I/O, and the result
says in words where the credentials came from.

:func:`explain` turns what keystoneauth and openstacksdk raise when
credentials cannot be used (an unknown plugin, a missing option, an unknown
cloud, Keystone unreachable, 401, 403) into a :class:`CredentialError`: one
line that names the option, cloud or URL and says what to do next.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from oslo_config import cfg

from reaper import config

#: An ``OS_*`` variable that holds credentials (the others only select or tune).
ENVIRONMENT_MARKER = "OS_AUTH_URL"
#: keystoneauth plugins whose credential is a token: it expires, and nothing renews it.
EXPIRING_AUTH_TYPES = frozenset({"token", "v3token", "admin_token"})
ROLE_HINT = (
    "reaper needs the admin role: `openstack role add --project service --user <reaper's user> "
    "admin` (doc/install.md, 'Credentials and roles')"
)


class Origin(str, enum.Enum):
    """Where the credentials were found, in order of precedence."""

    OPTION = "--os-cloud"
    OS_CLOUD = "OS_CLOUD"
    ENVIRONMENT = "OS_* environment"
    CONFIG_CLOUD = "[service_credentials] cloud"
    CONFIG_AUTH = "[service_credentials] auth_type"


class Reason(str, enum.Enum):
    """Why credentials could not be used; the label of the controller's metric."""

    CONFIG = "config"
    UNREACHABLE = "unreachable"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"


@dataclasses.dataclass(frozen=True)
class CredentialSource:
    """The one place reaper's credentials come from.

    ``cloud`` is set for the clouds.yaml origins, ``auth_type`` for the
    ``[service_credentials]`` keystoneauth options (and for the environment,
    ``OS_AUTH_TYPE`` or keystoneauth's default, password).
    """

    origin: Origin
    cloud: str | None = None
    auth_type: str | None = None
    config_files: tuple[str, ...] = ()

    @property
    def uses_clouds_yaml(self) -> bool:
        return self.origin in (Origin.OPTION, Origin.OS_CLOUD, Origin.CONFIG_CLOUD)

    def where(self) -> str:
        """Where an operator changes these credentials, in words."""
        if self.uses_clouds_yaml:
            return f"cloud {self.cloud!r} of clouds.yaml ({self.origin.value})"
        if self.origin is Origin.ENVIRONMENT:
            return "the OS_* environment variables"
        return f"[service_credentials] of {_files(self.config_files)}"

    def __str__(self) -> str:
        if self.uses_clouds_yaml:
            return f"cloud {self.cloud} ({self.origin.value})"
        if self.origin is Origin.ENVIRONMENT:
            return f"OS_* environment (auth_type {self.auth_type})"
        return f"[service_credentials] auth_type = {self.auth_type}"


class CredentialError(RuntimeError):
    """reaper cannot use its credentials. The message is for an operator: one line."""

    def __init__(self, message: str, reason: Reason) -> None:
        super().__init__(message)
        self.reason = reason


def resolve(
    conf: cfg.ConfigOpts, *, os_cloud: str | None = None, environ: Mapping[str, str]
) -> CredentialSource:
    """The credential source that wins, by the precedence of this module's docstring."""
    files = tuple(conf.config_file or ())
    if os_cloud:
        return CredentialSource(Origin.OPTION, cloud=os_cloud, config_files=files)
    if environ.get("OS_CLOUD"):
        return CredentialSource(Origin.OS_CLOUD, cloud=environ["OS_CLOUD"], config_files=files)
    if environ.get(ENVIRONMENT_MARKER):
        return CredentialSource(
            Origin.ENVIRONMENT,
            auth_type=environ.get("OS_AUTH_TYPE") or "password",
            config_files=files,
        )
    creds = conf[config.SERVICE_CREDENTIALS_GROUP]
    if creds.cloud and creds.auth_type:
        raise CredentialError(
            f"[service_credentials] of {_files(files)} sets both cloud = {creds.cloud} and "
            f"auth_type = {creds.auth_type}: keep one of them",
            Reason.CONFIG,
        )
    if creds.cloud:
        return CredentialSource(Origin.CONFIG_CLOUD, cloud=creds.cloud, config_files=files)
    if creds.auth_type:
        return CredentialSource(Origin.CONFIG_AUTH, auth_type=creds.auth_type, config_files=files)
    raise CredentialError(
        "no cloud credentials: pass --os-cloud, set OS_CLOUD (or the OS_* variables of an "
        f"openrc), or set cloud or auth_type in [service_credentials] of {_files(files)}",
        Reason.CONFIG,
    )


def explain(
    exc: BaseException,
    source: CredentialSource | None,
    *,
    auth_url: str | None = None,
    keystone: bool = True,
) -> CredentialError | None:
    """An operator's message for ``exc`` if it means the credentials cannot be used.

    ``exc`` may wrap the cause (openstacksdk wraps keystoneauth's errors,
    verification wraps both); the whole chain is searched. ``keystone``
    says that ``exc`` came from talking to Keystone (authentication,
    verification), so a connection that failed means Keystone is
    unreachable; from elsewhere, only 401 and 403 are about credentials.
    ``None`` means the failure is not about credentials.
    """
    from keystoneauth1 import exceptions as ks_exc
    from openstack import exceptions as sdk_exc

    where = source.where() if source is not None else "reaper's credentials"
    for cause in _chain(exc):
        if isinstance(cause, CredentialError):
            return cause
        if isinstance(cause, ks_exc.NoMatchingPlugin):
            return CredentialError(
                f"{where}: auth_type {cause.name!r} is not a keystoneauth plugin: use "
                "password or v3applicationcredential (doc/install.md, 'Credentials and roles')",
                Reason.CONFIG,
            )
        if isinstance(cause, ks_exc.MissingRequiredOptions):
            return _missing(source, [o.dest for o in cause.options])
        if type(cause) is Exception and str(cause).endswith(" is a required attribute"):
            # keystoneauth's generic password plugin, when the password is None.
            return _missing(source, [str(cause).split()[0]])
        if isinstance(cause, sdk_exc.ConfigException) and "was not found" in str(cause):
            cloud = source.cloud if source is not None else "?"
            origin = source.origin.value if source is not None else "?"
            return CredentialError(
                f"cloud {cloud!r} ({origin}) is not in clouds.yaml ({clouds_searched()}): "
                "add it, or point OS_CLIENT_CONFIG_FILE at the clouds.yaml that has it",
                Reason.CONFIG,
            )
        if keystone and isinstance(cause, ks_exc.ConnectionError):
            return CredentialError(
                f"cannot reach Keystone at {auth_url or _url_in(cause) or '?'} ({where}): "
                f"{_why_unreachable(cause)}: check the URL and that Keystone is running",
                Reason.UNREACHABLE,
            )
        status = _status(cause)
        if status == 401:
            at = f" by Keystone at {auth_url}" if auth_url else ""
            return CredentialError(
                f"the credentials of {where} were rejected{at} (401 Unauthorized): check the "
                "user, its password or application credential secret, and the project there",
                Reason.UNAUTHORIZED,
            )
        if status == 403:
            return CredentialError(
                f"{_request_in(cause) or 'a request'} was refused to the user of {where} "
                f"(403 Forbidden): {ROLE_HINT}",
                Reason.FORBIDDEN,
            )
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _missing(source: CredentialSource | None, names: Sequence[str]) -> CredentialError:
    options = ", ".join(n.replace("-", "_") for n in names)
    if source is not None and source.origin is Origin.ENVIRONMENT:
        variables = ", ".join("OS_" + n.replace("-", "_").upper() for n in names)
        return CredentialError(
            f"the OS_* environment lacks {variables} (auth_type {source.auth_type}): export "
            "it, or source a complete openrc",
            Reason.CONFIG,
        )
    if source is not None and source.uses_clouds_yaml:
        return CredentialError(
            f"{source.where()} lacks {options} in its auth section: add it there",
            Reason.CONFIG,
        )
    auth_type = source.auth_type if source is not None else "?"
    files = _files(source.config_files if source is not None else ())
    return CredentialError(
        f"[service_credentials] lacks {options}, required by auth_type = {auth_type}: "
        f"set it in {files}",
        Reason.CONFIG,
    )


def _status(exc: BaseException) -> int | None:
    for attribute in ("http_status", "status_code"):
        value = getattr(exc, attribute, None)
        if isinstance(value, int):
            return value
    return None


def _request_in(exc: BaseException) -> str:
    """``GET /v3/projects/...``: the request an HTTP error answered, when it says."""
    response = getattr(exc, "response", None)
    url = getattr(exc, "url", None) or getattr(response, "url", None)
    method = getattr(exc, "method", None) or getattr(
        getattr(response, "request", None), "method", None
    )
    if not url:
        return ""
    return f"{method + ' ' if method else ''}{_path(str(url))}"


def _path(url: str) -> str:
    return re.sub(r"^[a-z]+://[^/]+", "", url) or "/"


_URL = re.compile(r"https?://[^\s:/]+(?::\d+)?[^\s:]*")


def _url_in(exc: BaseException) -> str | None:
    found = _URL.search(str(exc))
    return found.group(0) if found else None


def _why_unreachable(exc: BaseException) -> str:
    text = str(exc).lower()
    for needle, why in (
        ("refused", "connection refused"),
        ("timed out", "timed out"),
        ("timeout", "timed out"),
        ("name or service not known", "unknown host name"),
        ("temporary failure in name resolution", "host name not resolved"),
        ("certificate", "TLS certificate not trusted (set cafile)"),
        ("ssl", "TLS error"),
        ("reset", "connection reset"),
    ):
        if needle in text:
            return why
    return type(exc).__name__


def _files(paths: Sequence[str]) -> str:
    return ", ".join(paths) if paths else "reaper.conf (none was read)"


def describe(source: CredentialSource | CredentialError, conf: Any, store: str) -> str:
    """The CLI's one line about what it reads: configuration files, credentials, store."""
    files = ", ".join(conf.config_file or ()) or "none (embedded defaults)"
    credentials = str(source) if isinstance(source, CredentialSource) else "none usable"
    return f"reaper: config {files}; credentials {credentials}; store {store}"


def clouds_searched() -> str:
    """Which clouds.yaml openstacksdk read and the clouds in it, or where it looked for one."""
    import openstack.config

    try:
        loader = openstack.config.OpenStackConfig()
    except Exception as exc:  # an unreadable clouds.yaml: its own error says which
        return f"clouds.yaml could not be read: {exc}"
    if loader.config_filename:
        names = sorted(n for n in loader.get_cloud_names() if n != "defaults")
        return f"{loader.config_filename} has {', '.join(names) or 'no clouds'}"
    folders = list(dict.fromkeys(os.path.dirname(f) for f in loader._config_files))
    return "no clouds.yaml found in " + ", ".join(folders)

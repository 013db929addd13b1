"""What an inventory handler is, and the resource types it declares.

A handler finds, for one cloud service, everything a deleted identity left
behind. Handlers are registered in the ``reaper.inventory`` stevedore
namespace; each declares the :class:`ResourceType` values it yields, so the
policy schema knows, before any cloud call, which fields a policy may test
on which type (a protect rule on a field a type does not have is a
validation error, not a silent no-match).

Attributes of a discovered resource are the openstacksdk resource's own
``to_dict(computed=False)`` names (``is_shared``, ``visibility``,
``is_router_external``...), plus the ``reaper_*`` fields below: one
vocabulary for policies, documented by the SDK.
"""

from __future__ import annotations

import abc
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reaper import progress
from reaper.ids import unsafe_filter_value
from reaper.model import IdentityKind, IdentityRef, Resource
from reaper.sealing import seal_resource, secret_fields

if TYPE_CHECKING:
    from openstack.connection import Connection

#: Fields reaper adds to every resource's attributes.
#: ``reaper_relation`` is ``owner`` when the deleted identity owns the resource,
#: ``creator`` when the deleted user only created it inside a live project, and
#: ``dangling`` for another identity's resource that points at something the
#: deleted one leaves behind (a DNS record naming its released address).
REAPER_FIELDS = frozenset({"reaper_relation", "reaper_owner_field"})
#: Present on every type, whatever its SDK class.
COMMON_FIELDS = frozenset({"id", "name", "project_id", "user_id", "status", "type"})

#: What the live-use stage (``reaper.inventory.liveuse``) adds to the types another
#: project can use: whether a live project uses it, and the uses (typed edges).
#: ``in_use_by_live_project`` counts uses (a port, a rule, a server, an attachment);
#: ``shared_with_live_project`` counts grants alone (an RBAC entry, an accepted image
#: membership) that nothing of the grantee uses yet.
IN_USE = "in_use_by_live_project"
SHARED = "shared_with_live_project"
USED_BY = "reaper_used_by"
LIVE_USE_FIELDS = frozenset({IN_USE, SHARED, USED_BY})
USABLE_TYPES = frozenset(
    {
        "network.network",
        "network.subnet",
        "network.security_group",
        "network.rbac_policy",
        "network.subnet_pool",
        "network.address_scope",
        "network.qos_policy",
        "network.floating_ip",
        "image.image",
        "block_storage.volume",
    }
)


def live_users(resource: Resource) -> str:
    """``kept: in use by live project L (port P on server S); ...``, or ``""`` if unused.

    What a plan, the audit trail and ``reaper tombstone show`` say about a
    resource kept for live use: who uses it, through what.
    """
    uses = [u for u in resource.attributes.get(USED_BY) or () if u.get("kind") != "grant"]
    said = "; ".join(
        f"in use by live project {u.get('project_id')} ({u.get('detail')})" for u in uses
    )
    return f"kept: {said}" if said else ""


RELATION_OWNER = "owner"
RELATION_CREATOR = "creator"
RELATION_DANGLING = "dangling"


@dataclass(frozen=True)
class ResourceType:
    """A kind of cloud object reaper can find and act on."""

    #: ``service.kind``; the service part picks the executor's concurrency bucket.
    name: str
    #: Attribute names a policy may test, beyond COMMON_FIELDS and REAPER_FIELDS.
    fields: frozenset[str] = frozenset()
    #: The attribute(s) re-checked against the deleted identity (fail closed).
    owner_fields: tuple[str, ...] = ("project_id",)
    #: Which identity kinds can own it: keypairs belong to users only.
    owned_by: frozenset[IdentityKind] = frozenset({IdentityKind.PROJECT})
    description: str = ""

    @property
    def service(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def secret_fields(self) -> frozenset[str]:
        """Attributes sealed to a fingerprint before anything keeps them (``reaper.sealing``)."""
        return secret_fields(self.name)

    @property
    def all_fields(self) -> frozenset[str]:
        live = LIVE_USE_FIELDS if self.name in USABLE_TYPES else frozenset()
        return self.fields | COMMON_FIELDS | REAPER_FIELDS | live

    @classmethod
    def from_sdk(cls, name: str, sdk_class: type, **kwargs: Any) -> ResourceType:
        """A type whose fields are those of an openstacksdk resource class."""
        extra = frozenset(kwargs.pop("extra_fields", ()))
        names = frozenset(sdk_class().to_dict(computed=False)) | extra
        return cls(name=name, fields=names, **kwargs)


class UnsafeScope(ValueError):
    """A scope whose owner filters would list more than one identity's resources."""


@dataclass(frozen=True)
class Scope:
    """Whose resources to find.

    For a project: everything it owns. For a user: what the user owns
    (keypairs) plus what the user created inside projects that still exist
    (reported with ``reaper_relation = creator``). For a domain: the union of
    its projects' and users' scopes, which the caller resolves into
    ``project_ids`` and ``user_ids``.
    """

    identity: IdentityRef
    project_ids: frozenset[str] = frozenset()
    user_ids: frozenset[str] = frozenset()
    #: A time (reaper's clock) by which the identity was gone: a cloud-wide listing begun
    #: then or later shows all it still owns, so one such read may serve several
    #: discoveries (:mod:`reaper.inventory.cloudwide`). ``None``: it may exist; read alone.
    #: Not part of what a scope *is* (whose resources), so not compared.
    gone_by: dt.datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Refuse to exist with an owner filter no listing may use.

        Every handler builds its owner filters from a scope, so this is the
        one place that keeps ``*``, ``%`` and anything else below the id
        floor (``reaper/ids.py``) out of every listing, whoever supplied
        the id: a notification, the sweep or an operator's command line.
        """
        for value in (self.identity.id, *self.project_ids, *self.user_ids):
            problem = unsafe_filter_value(value)
            if problem is not None:
                raise UnsafeScope(f"{self.identity.kind.value} scope refused: {problem}")

    @classmethod
    def of(cls, identity: IdentityRef) -> Scope:
        if identity.kind is IdentityKind.PROJECT:
            return cls(identity, project_ids=frozenset({identity.id}))
        if identity.kind is IdentityKind.USER:
            return cls(identity, user_ids=frozenset({identity.id}))
        return cls(identity)


@dataclass(frozen=True)
class Finding:
    """What one handler returned: resources, plus what it refused or could not do."""

    handler: str
    resources: tuple[Resource, ...] = ()
    #: Objects the service returned for the owner filter that failed the owner re-check.
    mismatches: tuple[Resource, ...] = ()
    #: Why the handler's answer may be incomplete (an error, a service not in the catalog).
    errors: tuple[str, ...] = ()
    skipped: bool = False


@dataclass
class Collector:
    """Accumulates a handler's resources, enforcing ownership as it goes."""

    handler: str
    scope: Scope
    resources: list[Resource] = field(default_factory=list)
    mismatches: list[Resource] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, rtype: ResourceType, resource: Resource) -> bool:
        """Keep ``resource`` only if its owner field names an identity in scope.

        Either way its secret attributes are sealed here (``reaper.sealing``):
        what a handler collects becomes plan entries and before-images.
        """
        resource = seal_resource(resource)
        relation = owner_relation(rtype, resource, self.scope)
        if relation is None:
            self.mismatches.append(resource)
            return False
        attributes = {**resource.attributes, "reaper_relation": relation}
        self.resources.append(dataclasses.replace(resource, attributes=attributes))
        return True

    def add_reference(self, rtype: ResourceType, resource: Resource, relation: str) -> None:
        """Keep another identity's ``resource`` that refers to something in scope.

        Not owned, so never acted on by an owner rule: ``reaper_relation`` says why
        it is in the plan, and the policies say what happens to it.
        """
        resource = seal_resource(resource)
        attributes = {**resource.attributes, "reaper_relation": relation}
        self.resources.append(dataclasses.replace(resource, attributes=attributes))

    def finding(self) -> Finding:
        return Finding(
            handler=self.handler,
            resources=tuple(self.resources),
            mismatches=tuple(self.mismatches),
            errors=tuple(self.errors),
        )


def owner_relation(rtype: ResourceType, resource: Resource, scope: Scope) -> str | None:
    """``owner``/``creator`` when ``resource`` belongs in ``scope``, else None."""
    attrs = resource.attributes
    for name in rtype.owner_fields:
        value = attrs.get(name, getattr(resource, name, None))
        if name == "user_id":
            if value and value in scope.user_ids:
                return RELATION_OWNER
        elif value and value in scope.project_ids:
            return RELATION_OWNER
    if scope.user_ids and (resource.user_id or attrs.get("user_id")) in scope.user_ids:
        return RELATION_CREATOR
    return None


class Handler(abc.ABC):
    """Finds one service's resources for a :class:`Scope`."""

    #: Catalog service type (``compute``, ``block-storage``, ``network``, ``image``).
    service_type: str = ""
    #: A service many clouds do not run (object storage, load balancers, DNS): absent
    #: from the catalog, it holds nothing, and the plan is not incomplete for it. A core
    #: service missing from the catalog is a misconfiguration and makes it incomplete.
    optional: bool = False
    types: tuple[ResourceType, ...] = ()
    #: Listings its discovery sends side by side per project. Discovery starts the
    #: handlers with the most first: their listings queue longest for their service's
    #: slots (Neutron's eleven share a cap of 8), and the live-use lookups after them
    #: are on the way to the plan, while a handler of one or two listings ends early.
    listings: int = 1

    @abc.abstractmethod
    def discover(self, conn: Connection, scope: Scope) -> Finding:
        """Everything in ``scope`` this service holds, with dependency edges.

        Lists with explicit owner filters as an admin, then re-checks each
        object's owner field (:class:`Collector`): a service that ignores a
        filter must not widen what reaper touches.
        """

    def cross_reference(
        self, conn: Connection, scope: Scope, resources: Sequence[Resource]
    ) -> Finding:
        """Others' resources that refer to ``resources`` (what every handler found).

        Runs after every handler's :meth:`discover`; most handlers have nothing to add.
        """
        return Finding(handler=f"{self.service_type}.references")


def gather(
    calls: Mapping[str, Callable[[], list[Any]]], *, workers: int = 8
) -> dict[str, list[Any]]:
    """Run independent list calls in parallel; the first error propagates.

    Discovery latency is the sum of round trips otherwise, and the
    controller's promise is a first action within a second or so.
    """
    if len(calls) <= 1:
        return {name: call() for name, call in calls.items()}
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=min(workers, len(calls)), thread_name_prefix="reaper-list"
    ) as pool:
        futures = {pool.submit(call): name for name, call in calls.items()}
        results: dict[str, list[Any]] = {}
        for future in concurrent.futures.as_completed(futures):
            name = futures[future]
            results[name] = future.result()
            progress.report(f"listed {name}: {len(results[name])}")
        return {name: results[name] for name in calls}


def learn_microversions(proxy: Any) -> None:
    """Ask a microversioned service (Nova, Cinder) for its versions once, before listing.

    openstacksdk asks on the first request that needs a microversion and
    keystoneauth caches the answer per session, but threads that miss the
    cache together each ask: Cinder's three parallel listings on a new
    connection cost six more requests (an unauthenticated and an
    authenticated GET of its version document each) than one question first.
    It costs no round trip: the first listing would have waited for it too.
    Not for the other services, whose listings never ask: there the question
    would be requests of its own. A failure is the listings' to report.
    """
    # The listings fail on their own, with their own error.
    with contextlib.suppress(Exception):
        proxy.get_endpoint_data()


def sdk_attributes(obj: Any) -> dict[str, Any]:
    """An SDK resource's own attributes, as plain data (the before-image)."""
    if hasattr(obj, "to_dict"):
        data = obj.to_dict(computed=False)
    elif isinstance(obj, Mapping):
        data = dict(obj)
    else:
        data = dict(vars(obj))
    data.pop("location", None)
    return data


def resource_from_sdk(
    rtype: ResourceType,
    obj: Any,
    *,
    edges: Iterable[Any] = (),
    attributes: Callable[[Any], dict[str, Any]] = sdk_attributes,
    **overrides: Any,
) -> Resource:
    attrs = attributes(obj)
    values: dict[str, Any] = {
        "id": attrs.get("id"),
        "name": attrs.get("name"),
        "project_id": attrs.get("project_id") or attrs.get("tenant_id") or attrs.get("owner"),
        "user_id": attrs.get("user_id"),
        "status": attrs.get("status"),
    }
    values.update(overrides)
    return Resource(type=rtype.name, attributes=attrs, edges=tuple(edges), **values)

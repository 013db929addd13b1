"""Build a realistic tenant in a testbed, as the tenant's own user, with openstacksdk.

The admin creates the project, a user with the ``member`` role on it and (for tenants
larger than the default quotas) quotas; everything else is created by that user, the way
a real tenant's resources come to exist, so ownership (project_id, user_id) is real:

network, subnet, router with an external gateway and an interface on the subnet, extra
security groups with a rule, extra ports, ACTIVE servers (in ``default`` and the extra
groups), volumes (some attached to servers), snapshots, floating IPs (associated to
servers' ports), private images with uploaded bytes, keypairs.

Sizes are parameters: the defaults make a small tenant for functional tests, benchmarks
ask for hundreds of resources. Creation runs on a thread pool and waits are batched (one
list call per resource type per poll, not one GET per resource), so large tenants build
as fast as the services allow.

This runs in reaper's venv (openstacksdk is one of reaper's requirements), not the
services' venv.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from openstack.connection import Connection

T = TypeVar("T")

SERVER_FLAVOR = "testbed.tiny"
SERVER_IMAGE = "testbed-image"
EXTERNAL_NETWORK = "public"
MEMBER_ROLE = "member"

# The services' default quotas: a tenant within them needs no quota change.
_DEFAULT_QUOTAS = {
    "instances": 10,
    "volumes": 10,
    "snapshots": 10,
    "floating_ips": 50,
    "ports": 500,
    "security_groups": 10,
}


@dataclass(frozen=True)
class TenantSpec:
    """How much of each resource to create. ``attached_volumes`` <= ``volumes``."""

    servers: int = 1
    volumes: int = 2
    attached_volumes: int = 1
    snapshots: int = 1
    floating_ips: int = 1
    ports: int = 1
    images: int = 1
    keypairs: int = 1
    security_groups: int = 1
    volume_size_gb: int = 1
    #: Cloud-init the servers boot with (plain text; sent base64, as Nova wants it).
    user_data: str | None = None
    image_bytes: int = 4096
    workers: int = 16
    timeout: float = 900.0

    def __post_init__(self) -> None:
        if self.attached_volumes > self.volumes:
            raise ValueError("attached_volumes cannot exceed volumes")
        if self.attached_volumes and not self.servers:
            raise ValueError("attached volumes need at least one server")
        if self.snapshots and not self.volumes:
            raise ValueError("snapshots need at least one volume")

    def exceeds_default_quotas(self) -> bool:
        return (
            self.servers > _DEFAULT_QUOTAS["instances"]
            or self.volumes > _DEFAULT_QUOTAS["volumes"]
            or self.snapshots > _DEFAULT_QUOTAS["snapshots"]
            or self.floating_ips > _DEFAULT_QUOTAS["floating_ips"]
            or self.servers + self.ports + 10 > _DEFAULT_QUOTAS["ports"]
            or self.security_groups + 1 > _DEFAULT_QUOTAS["security_groups"]
        )


@dataclass
class Tenant:
    """What was created, by id. The user and password can log in until deleted."""

    project_id: str
    project_name: str
    domain_id: str
    user_id: str
    user_name: str
    password: str
    auth_url: str
    region: str
    quotas_set: bool = False
    network_id: str = ""
    subnet_id: str = ""
    router_id: str = ""
    security_group_ids: list[str] = field(default_factory=list)
    port_ids: list[str] = field(default_factory=list)
    server_ids: list[str] = field(default_factory=list)
    server_port_ids: dict[str, str] = field(default_factory=dict)
    volume_ids: list[str] = field(default_factory=list)
    #: volume id -> id of the server it is attached to
    attachments: dict[str, str] = field(default_factory=dict)
    snapshot_ids: list[str] = field(default_factory=list)
    floating_ip_ids: list[str] = field(default_factory=list)
    image_ids: list[str] = field(default_factory=list)
    keypair_names: list[str] = field(default_factory=list)
    #: seconds from the start of the build to the end of each phase (for benchmarks)
    timings: dict[str, float] = field(default_factory=dict)

    def connect(self) -> Connection:
        """A connection as the tenant's user, scoped to its project."""
        return user_connection(
            self.auth_url, self.user_name, self.password, self.project_id, self.region
        )


def user_connection(
    auth_url: str, username: str, password: str, project_id: str, region: str
) -> Connection:
    """Connect with explicit credentials only (no clouds.yaml, no OS_* variables)."""
    import openstack.config
    from openstack.connection import Connection

    region_config = openstack.config.get_cloud_region(
        load_yaml_config=False,
        load_envvars=False,
        auth_type="password",
        auth={
            "auth_url": auth_url,
            "username": username,
            "password": password,
            "project_id": project_id,
            "user_domain_id": "default",
        },
        region_name=region,
        interface="public",
        identity_api_version="3",
    )
    return Connection(config=region_config)


def _admin_auth_url(admin: Connection) -> str:
    return str(admin.config.config["auth"]["auth_url"])


def wait_all(
    what: str,
    ids: Iterable[str],
    list_current: Callable[[], Iterable[Any]],
    ready: Callable[[Any], bool],
    failed: Callable[[Any], bool],
    timeout: float,
    interval: float = 2.0,
) -> None:
    """Wait until every id is ready, listing all of them at once per poll.

    A poll whose connection is reset is just a lost poll: the WSGI servers close
    idle keep-alive connections, and a poll that reuses one just then gets a reset.
    """
    from keystoneauth1.exceptions import ConnectionError as ConnectionFailed

    pending = set(ids)
    deadline = time.monotonic() + timeout
    while pending:
        try:
            current = {item.id: item for item in list_current() if item.id in pending}
        except ConnectionFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)
            continue
        broken = [i for i, item in current.items() if failed(item)]
        if broken:
            raise RuntimeError(f"{what} failed: {broken}")
        pending -= {i for i, item in current.items() if ready(item)}
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} {what} not ready after {timeout:.0f}s")
        time.sleep(interval)


def _status_is(*statuses: str) -> Callable[[Any], bool]:
    wanted = {s.lower() for s in statuses}
    return lambda item: str(item.status).lower() in wanted


def _public_key() -> str:
    """A fresh ed25519 public key: nova no longer generates keypairs (microversion 2.92)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    openssh = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return openssh.decode()


def _user_data(spec: TenantSpec) -> dict[str, str]:
    if spec.user_data is None:
        return {}
    return {"user_data": base64.b64encode(spec.user_data.encode()).decode("ascii")}


def _submit(pool: ThreadPoolExecutor, fn: Callable[[int], T], count: int) -> list[Future[T]]:
    return [pool.submit(fn, i) for i in range(count)]


def _results(futures: list[Future[T]]) -> list[T]:
    return [future.result() for future in futures]


def _parallel(pool: ThreadPoolExecutor, fn: Callable[[int], T], count: int) -> list[T]:
    return _results(_submit(pool, fn, count))


def _create_identity(admin: Connection, name: str, spec: TenantSpec) -> Tenant:
    domain = admin.identity.find_domain("default") or admin.identity.get_domain("default")
    project = admin.identity.create_project(
        name=name, domain_id=domain.id, description="reaper testbed tenant"
    )
    password = secrets.token_urlsafe(16)
    user = admin.identity.create_user(
        name=f"{name}-user", password=password, domain_id=domain.id, default_project_id=project.id
    )
    role = admin.identity.find_role(MEMBER_ROLE)
    admin.identity.assign_project_role_to_user(project, user, role)
    tenant = Tenant(
        project_id=project.id,
        project_name=project.name,
        domain_id=domain.id,
        user_id=user.id,
        user_name=user.name,
        password=password,
        auth_url=_admin_auth_url(admin),
        region=admin.config.region_name,
    )
    if spec.exceeds_default_quotas():
        _raise_quotas(admin, project.id, spec)
        tenant.quotas_set = True
    return tenant


def _raise_quotas(admin: Connection, project_id: str, spec: TenantSpec) -> None:
    margin = 10
    admin.set_compute_quotas(
        project_id,
        instances=spec.servers + margin,
        cores=spec.servers + margin,
        ram=(spec.servers + margin) * 512,
        key_pairs=spec.keypairs + margin,
    )
    admin.set_volume_quotas(
        project_id,
        volumes=spec.volumes + margin,
        snapshots=spec.snapshots + margin,
        gigabytes=(spec.volumes + spec.snapshots + margin) * spec.volume_size_gb + 1000,
    )
    admin.set_network_quotas(
        project_id,
        floatingip=spec.floating_ips + margin,
        port=spec.servers + spec.ports + spec.floating_ips + 4 * margin,
        security_group=spec.security_groups + margin,
        security_group_rule=4 * (spec.security_groups + margin),
    )


def _network(conn: Connection, tenant: Tenant, external_id: str) -> None:
    name = tenant.project_name
    network = conn.network.create_network(name=f"{name}-net")
    subnet = conn.network.create_subnet(
        name=f"{name}-subnet", network_id=network.id, ip_version=4, cidr="10.10.0.0/20"
    )
    router = conn.network.create_router(
        name=f"{name}-router", external_gateway_info={"network_id": external_id}
    )
    conn.network.add_interface_to_router(router, subnet_id=subnet.id)
    tenant.network_id, tenant.subnet_id, tenant.router_id = network.id, subnet.id, router.id


def _security_group(conn: Connection, tenant: Tenant, index: int) -> str:
    group = conn.network.create_security_group(name=f"{tenant.project_name}-sg{index}")
    conn.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
    )
    return str(group.id)


def build_tenant(
    admin: Connection, spec: TenantSpec | None = None, name: str | None = None
) -> Tenant:
    """Create a project, its user and the spec's resources; wait until all are usable."""
    spec = spec or TenantSpec()
    name = name or f"tenant-{secrets.token_hex(4)}"
    started = time.monotonic()
    tenant = _create_identity(admin, name, spec)

    def mark(phase: str) -> None:
        tenant.timings[phase] = round(time.monotonic() - started, 1)

    mark("identity")
    conn = tenant.connect()
    conn.authorize()
    flavor = conn.compute.find_flavor(SERVER_FLAVOR, ignore_missing=False)
    image = conn.image.find_image(SERVER_IMAGE, ignore_missing=False)
    external = conn.network.find_network(EXTERNAL_NETWORK, ignore_missing=False)
    timeout = spec.timeout

    with ThreadPoolExecutor(max_workers=spec.workers) as pool:
        # Only leaf tasks go to the pool (never a task that waits on the pool), so any
        # number of workers, even one, makes progress.
        network_done = pool.submit(_network, conn, tenant, external.id)
        groups = _submit(pool, lambda i: _security_group(conn, tenant, i), spec.security_groups)
        keypairs = _submit(
            pool,
            lambda i: (
                conn.compute.create_keypair(name=f"{name}-key{i}", public_key=_public_key()).name
            ),
            spec.keypairs,
        )
        images = _submit(
            pool,
            lambda i: (
                conn.image.create_image(
                    name=f"{name}-image{i}",
                    data=secrets.token_bytes(spec.image_bytes),
                    disk_format="raw",
                    container_format="bare",
                    visibility="private",
                ).id
            ),
            spec.images,
        )
        volumes = _submit(
            pool,
            lambda i: (
                conn.block_storage.create_volume(name=f"{name}-vol{i}", size=spec.volume_size_gb).id
            ),
            spec.volumes,
        )
        network_done.result()
        tenant.security_group_ids = _results(groups)
        group_names = [{"name": "default"}] + [
            {"name": f"{name}-sg{i}"} for i in range(spec.security_groups)
        ]
        servers = _submit(
            pool,
            lambda i: (
                conn.compute.create_server(
                    name=f"{name}-server{i}",
                    flavor_id=flavor.id,
                    image_id=image.id,
                    networks=[{"uuid": tenant.network_id}],
                    security_groups=group_names,
                    **_user_data(spec),
                ).id
            ),
            spec.servers,
        )
        ports = _submit(
            pool,
            lambda i: (
                conn.network.create_port(name=f"{name}-port{i}", network_id=tenant.network_id).id
            ),
            spec.ports,
        )
        tenant.volume_ids = _results(volumes)
        tenant.server_ids = _results(servers)
        tenant.port_ids = _results(ports)
        tenant.keypair_names = _results(keypairs)
        tenant.image_ids = _results(images)
        mark("created")

        wait_all(
            "volumes",
            tenant.volume_ids,
            conn.block_storage.volumes,
            _status_is("available"),
            _status_is("error"),
            timeout,
        )
        mark("volumes available")
        # Snapshots before attachments: snapshotting an in-use volume needs force.
        tenant.snapshot_ids = _parallel(
            pool,
            lambda i: (
                conn.block_storage.create_snapshot(
                    name=f"{name}-snap{i}",
                    volume_id=tenant.volume_ids[i % len(tenant.volume_ids)],
                ).id
            ),
            spec.snapshots,
        )
        wait_all(
            "servers",
            tenant.server_ids,
            conn.compute.servers,
            _status_is("active"),
            _status_is("error"),
            timeout,
        )
        mark("servers active")
        wait_all(
            "snapshots",
            tenant.snapshot_ids,
            conn.block_storage.snapshots,
            _status_is("available"),
            _status_is("error"),
            timeout,
        )
        mark("snapshots available")
        _attach_volumes(pool, conn, tenant, spec)
        mark("volumes attached")
        _floating_ips(pool, conn, tenant, spec, external.id)
        mark("floating IPs associated")
    return tenant


def _attach_volumes(
    pool: ThreadPoolExecutor, conn: Connection, tenant: Tenant, spec: TenantSpec
) -> None:
    tenant.attachments = {
        tenant.volume_ids[i]: tenant.server_ids[i % len(tenant.server_ids)]
        for i in range(spec.attached_volumes)
    }

    def attach(item: tuple[str, str]) -> None:
        volume_id, server_id = item
        conn.compute.create_volume_attachment(server_id, volume_id=volume_id)

    list(pool.map(attach, tenant.attachments.items()))
    wait_all(
        "attachments",
        tenant.attachments,
        conn.block_storage.volumes,
        _status_is("in-use"),
        _status_is("error", "error_attaching"),
        spec.timeout,
    )


def _floating_ips(
    pool: ThreadPoolExecutor,
    conn: Connection,
    tenant: Tenant,
    spec: TenantSpec,
    external_id: str,
) -> None:
    ports_by_server = {
        port.device_id: port.id
        for port in conn.network.ports(network_id=tenant.network_id)
        if str(port.device_owner).startswith("compute:")
    }
    tenant.server_port_ids = {s: ports_by_server[s] for s in tenant.server_ids}

    def create(i: int) -> str:
        port_id = (
            tenant.server_port_ids[tenant.server_ids[i]] if i < len(tenant.server_ids) else None
        )
        return str(conn.network.create_ip(floating_network_id=external_id, port_id=port_id).id)

    tenant.floating_ip_ids = _parallel(pool, create, spec.floating_ips)


def delete_identity(admin: Connection, tenant: Tenant) -> None:
    """Delete the tenant's project and user in Keystone (only there: that is reaper's cue)."""
    admin.identity.delete_project(tenant.project_id, ignore_missing=True)
    admin.identity.delete_user(tenant.user_id, ignore_missing=True)

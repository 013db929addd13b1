"""Create Octavia's database schema from its models, with the rows its migrations seed.

Octavia's alembic migrations are MySQL-only (one drops a constraint named ``PRIMARY``,
which exists only in MySQL), so the testbed does what Octavia's own database tests do:
``metadata.create_all`` on the models, then the lookup tables (statuses, protocols,
algorithms...) and the ``DELETED`` placeholder flavor and availability zone.

Usage: ``python -m reaper_testbed_support.octavia_schema <database URL>``
"""

from __future__ import annotations

import sys
from typing import Any

import sqlalchemy
from octavia.common import constants
from octavia.db import base_models, models
from sqlalchemy.orm import Session

LOOKUPS: tuple[tuple[Any, Any], ...] = (
    (constants.SUPPORTED_PROVISIONING_STATUSES, models.ProvisioningStatus),
    (constants.SUPPORTED_HEALTH_MONITOR_TYPES, models.HealthMonitorType),
    (constants.SUPPORTED_LB_ALGORITHMS, models.Algorithm),
    (constants.SUPPORTED_PROTOCOLS, models.Protocol),
    (constants.SUPPORTED_OPERATING_STATUSES, models.OperatingStatus),
    (constants.SUPPORTED_SP_TYPES, models.SessionPersistenceType),
    (constants.SUPPORTED_AMPHORA_ROLES, models.AmphoraRoles),
    (constants.SUPPORTED_LB_TOPOLOGIES, models.LBTopology),
    (constants.SUPPORTED_VRRP_AUTH, models.VRRPAuthMethod),
    (constants.SUPPORTED_L7RULE_TYPES, models.L7RuleType),
    (constants.SUPPORTED_L7RULE_COMPARE_TYPES, models.L7RuleCompareType),
    (constants.SUPPORTED_L7POLICY_ACTIONS, models.L7PolicyAction),
    (constants.SUPPORTED_CLIENT_AUTH_MODES, models.ClientAuthenticationMode),
)


def seed(session: Session) -> None:
    for names, model in LOOKUPS:
        session.add_all(model(name=name) for name in names)
    placeholder = "DELETED-PLACEHOLDER"
    session.add(
        models.FlavorProfile(
            id=constants.NIL_UUID,
            name=placeholder,
            provider_name=constants.DELETED,
            flavor_data="{}",
        )
    )
    session.flush()
    session.add(
        models.Flavor(
            id=constants.NIL_UUID,
            flavor_profile_id=constants.NIL_UUID,
            name=placeholder,
            enabled=False,
        )
    )
    session.add(
        models.AvailabilityZoneProfile(
            id=constants.NIL_UUID,
            name=placeholder,
            provider_name=constants.DELETED,
            availability_zone_data="{}",
        )
    )
    session.flush()
    session.add(
        models.AvailabilityZone(
            availability_zone_profile_id=constants.NIL_UUID, name=constants.NIL_UUID, enabled=False
        )
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: octavia_schema <database URL>", file=sys.stderr)
        return 2
    engine = sqlalchemy.create_engine(argv[0])
    try:
        base_models.BASE.metadata.create_all(engine)
        with Session(engine) as session, session.begin():
            seed(session)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""An ML2 mechanism driver that binds every port, for a neutron without agents.

Nova refuses to boot a server whose port neutron could not bind, and every real mechanism
driver binds only ports on hosts where its agent reports in. The testbed runs no agents
(no OVS, no OVN), and neutron's in-tree ``test`` driver works only inside neutron's unit
tests, so this driver binds each port to the first segment it is offered and marks it ACTIVE.
"""

from __future__ import annotations

from typing import Any

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class BindAllMechanismDriver(api.MechanismDriver):
    """Binds any port on any host, so that nova's fake driver gets working networking."""

    def initialize(self) -> None:
        """Nothing to set up: the driver keeps no state."""

    @property
    def connectivity(self) -> str:
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context: Any) -> None:
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True},
                status=constants.PORT_STATUS_ACTIVE,
            )
            return

"""Build Swift's account, container and object rings: one device, one replica each.

What ``swift-ring-builder <ring>.builder create / add / rebalance`` does, in one process
instead of nine.

Usage: ``python -m reaper_testbed_support.swift_rings <swift dir> <ip> <device>
account=<port> container=<port> object=<port>``
"""

from __future__ import annotations

import sys
from pathlib import Path

from swift.common.ring import RingBuilder

#: 2**8 partitions: plenty for a testbed, quick to build.
PART_POWER = 8


def build(swift_dir: Path, ip: str, device: str, ring: str, port: int) -> None:
    builder = RingBuilder(PART_POWER, 1, 1)
    builder.add_dev(
        {"region": 1, "zone": 1, "ip": ip, "port": port, "device": device, "weight": 100.0}
    )
    builder.rebalance()
    builder.save(str(swift_dir / f"{ring}.builder"))
    builder.get_ring().save(str(swift_dir / f"{ring}.ring.gz"))


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    swift_dir, ip, device = Path(argv[0]), argv[1], argv[2]
    for spec in argv[3:]:
        ring, _, port = spec.partition("=")
        build(swift_dir, ip, device, ring, int(port))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

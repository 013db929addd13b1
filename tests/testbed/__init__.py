"""A real OpenStack on localhost for reaper's functional tests and benchmarks.

keystone, nova (fake virt driver), cinder (fake volume driver), neutron (ML2, no agents),
glance and placement, installed from PyPI into their own cached venv, each run with its
own directory, PostgreSQL databases, RabbitMQ vhost and ports. See README.md.

    from tests.testbed import Testbed
    testbed = Testbed.up()
    conn = testbed.connect()
    testbed.down()
"""

from .testbed import Testbed

__all__ = ["Testbed"]

"""``openstack reaper ...``: reaper's commands as a python-openstackclient plugin."""

"""The ``reaper`` operator command, built on cliff like python-openstackclient."""

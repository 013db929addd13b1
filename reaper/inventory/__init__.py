"""Discovery: one handler per cloud service, in the ``reaper.inventory`` namespace."""

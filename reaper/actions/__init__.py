"""Remediation actions, one module per family, in the ``reaper.actions`` namespace."""

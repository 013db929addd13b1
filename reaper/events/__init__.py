"""Triggers: Keystone notifications, parsed, and the listener that receives them."""

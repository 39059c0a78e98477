"""The device cloud: factory records, check-in, configuration helper, updates, switches."""

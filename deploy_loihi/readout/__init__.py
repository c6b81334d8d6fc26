"""Readout Process: records which neurons spiked on every time step."""

"""Hebbian association Process: plastic synapses learning the outer product of code pairs."""

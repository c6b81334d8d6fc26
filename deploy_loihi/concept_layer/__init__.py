"""Concept-cell neuron Process of the neuromorphic recall (one neuron per concept cell)."""

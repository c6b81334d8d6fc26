"""Memory-layer neuron Process of the neuromorphic recall (one neuron per memory)."""

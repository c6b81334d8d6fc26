"""k-WTA by neuron dynamics: a bit-serial threshold search over time steps (no sort)."""

"""k-winner-take-all neuron Process (exact top-k) with floating- and fixed-point models."""

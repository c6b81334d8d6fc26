"""Multi-hop recall network: a hierarchical Process of encoder, projection, k-WTA, W and clean-up layers."""

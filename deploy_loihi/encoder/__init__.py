"""Graded-spike encoder Process: streams embeddings into a network as graded spikes."""

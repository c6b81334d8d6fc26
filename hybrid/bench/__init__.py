"""Benchmark commands (``hhmem bench ...``): seeded, with a peer measured in the same run, JSON + Markdown + plot."""

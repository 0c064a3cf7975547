"""The host: stacks as data, planning, environments and workers. Stdlib only, Python 3.11+."""

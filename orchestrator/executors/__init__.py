"""executors (being written)."""

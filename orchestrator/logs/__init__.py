"""Darknet training logs: parse every fork's output, incrementally, and merge a run's jobs."""

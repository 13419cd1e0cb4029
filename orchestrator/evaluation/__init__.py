"""evaluation (being written)."""

"""The lowest layer: errors every command reports, atomic file writes, kernel locks."""

"""shred."""

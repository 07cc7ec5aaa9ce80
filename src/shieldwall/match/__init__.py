"""match capability."""

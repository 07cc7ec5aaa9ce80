"""ads capability."""

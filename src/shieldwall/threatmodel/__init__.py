"""threatmodel capability."""

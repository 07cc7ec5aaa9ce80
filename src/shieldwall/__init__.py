"""Shieldwall: a shared defence against election information operations."""

__version__ = "0.1.0"

"""Reproducible benchmarks; each module prints one line per figure and the ratio against its peer."""

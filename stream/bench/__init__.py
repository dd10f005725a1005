"""Benchmarks behind `segstream bench`: they measure and return figures, the CLI prints them."""


class BenchFailed(Exception):
    """A measurement could not be taken; the message says which one and why."""

"""Benchmarks behind `segstream bench`: they measure and return figures, the CLI prints them."""

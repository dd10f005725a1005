"""Builders, fixed clocks and fakes shared by tests and users."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# The example B2B definitions shipped in the package: what the demo and the benches run.
EXAMPLE_RULES = Path(str(files("stream").joinpath("examples/segments.yaml")))

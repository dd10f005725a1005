"""`segstream bench serving`: registers the serving benchmark on the bench group."""

from __future__ import annotations

from stream.cli.bench import bench
from stream.serving.bench import command

bench.add_command(command)

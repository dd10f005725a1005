"""`segstream bench page`: registers the status page benchmark on the bench group."""

from __future__ import annotations

from stream.cli.bench import bench
from stream.serving.bench_page import command

bench.add_command(command)

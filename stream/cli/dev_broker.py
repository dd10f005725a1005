"""`segstream dev-broker`: a local single-node Kafka for development and tests."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import NoReturn

import click

from stream.errors import SegstreamError
from stream.ops.broker import START_TIMEOUT_S, DevBroker, default_data_dir
from stream.ops.kafka_dist import KAFKA_VERSION

EXIT_NOT_RUNNING = 3

_data_dir = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_data_dir,
    show_default="$SEGSTREAM_DEV_BROKER_DIR or ~/.local/state/segstream/dev-broker",
    help="Where the broker keeps its config, storage, log and pid file.",
)


@click.group(name="dev-broker")
def command() -> None:
    """Run Apache Kafka locally (one KRaft node on 127.0.0.1) for development and tests."""


@command.command()
@click.option("--port", type=click.IntRange(1, 65535), default=9092, show_default=True)
@click.option(
    "--controller-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="KRaft controller port.  [default: PORT+1]",
)
@click.option(
    "--secure",
    is_flag=True,
    help="Clients connect with SASL_SSL and SCRAM-SHA-512 (a self-signed certificate and a "
    "user made at the first start); prints the file with the client settings.",
)
@click.option(
    "--internal-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="With --secure: the broker's own PLAINTEXT listener on 127.0.0.1.  [default: PORT+2]",
)
@_data_dir
@click.option("--timeout", type=float, default=START_TIMEOUT_S, show_default=True,
              help="Seconds to wait for the broker to answer.")  # fmt: skip
def start(
    port: int,
    controller_port: int | None,
    secure: bool,
    internal_port: int | None,
    data_dir: Path,
    timeout: float,
) -> None:
    """Start the broker in the background; print its bootstrap address when it answers.

    The first start resolves Kafka with `mvn` into $SEGSTREAM_CACHE_DIR (default
    ~/.cache/segstream). Starting a running broker again only prints its address.
    """
    began = time.monotonic()
    try:
        status = DevBroker(data_dir).start(
            port, controller_port, timeout, secure=secure, internal_port=internal_port
        )
    except SegstreamError as exc:
        _fail(str(exc))
    took = time.monotonic() - began
    if status.already_running:
        note = f"already running (pid {status.pid})"
        if status.port != port:
            note += f" on port {status.port}, not {port}: stop it first to change the port"
    else:
        note = f"Kafka {KAFKA_VERSION} started in {took:.1f} s (pid {status.pid})"
    click.echo(f"{note}; log: {DevBroker(data_dir).log_file}", err=True)
    if status.client_env is not None:
        # The password stays in the file (0600); it is never printed.
        click.echo(
            f"SASL_SSL (SCRAM-SHA-512, user segstream) on {status.bootstrap}; the client "
            f"settings, password and CA file included, are in {status.client_env}: "
            f"set -a; . {status.client_env}; set +a",
            err=True,
        )
    click.echo(status.bootstrap)


@command.command()
@_data_dir
def stop(data_dir: Path) -> None:
    """Stop the broker (SIGTERM, then SIGKILL if it lingers)."""
    try:
        was = DevBroker(data_dir).stop()
    except SegstreamError as exc:
        _fail(str(exc))
    click.echo(f"stopped (pid {was.pid})" if was.running else "not running")


@command.command()
@_data_dir
def status(data_dir: Path) -> None:
    """Say whether the broker runs: exit 0 and its address if so, exit 3 if not."""
    current = DevBroker(data_dir).status()
    if not current.running:
        click.echo("not running")
        sys.exit(EXIT_NOT_RUNNING)
    env = current.client_env
    secure = f" with SASL_SSL; client settings in {env}" if env is not None else ""
    click.echo(f"running (pid {current.pid}) at {current.bootstrap}{secure}")


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)

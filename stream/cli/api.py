"""`segstream api`: the HTTP API that answers memberships from Redis."""

from __future__ import annotations

import ipaddress
import logging
import sys
from pathlib import Path

import click

from stream.cli.failures import loglevel_option
from stream.cli.health import thresholds_of
from stream.cli.materialize import app_id_option, redis_option
from stream.cli.options import setting_option, settings_from
from stream.core.language.loader import load_file
from stream.errors import DefinitionError
from stream.serving.connection import redact

EXIT_RULES = 2


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("api")
@redis_option()
@setting_option(
    "rules_file", "--rules", type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@setting_option("api_host", "--host")
@setting_option("api_port", "--port", type=click.IntRange(1, 65535))
@app_id_option()
@click.option(
    "--allow-no-token",
    is_flag=True,
    help="Listen on a non-loopback address without SEGSTREAM_API_TOKEN (anyone may read).",
)
@loglevel_option()
def command(
    redis_url: str | None,
    rules_file: Path | None,
    api_host: str | None,
    api_port: int | None,
    app_id: str | None,
    allow_no_token: bool,
    loglevel: str | None,
) -> None:
    """Serve memberships over HTTP from Redis (OpenAPI at /openapi.json, docs at /docs).

    With SEGSTREAM_API_TOKEN set, /v1/ needs `Authorization: Bearer TOKEN`.
    """
    settings = settings_from(
        redis_url=redis_url, rules_file=rules_file, api_host=api_host, api_port=api_port,
        app_id=app_id, loglevel=loglevel,
    )  # fmt: skip
    ruleset = None
    if settings.rules_file is not None:
        try:
            ruleset = load_file(settings.rules_file)
        except DefinitionError as error:
            for line in error.lines():
                click.echo(line, err=True)
            sys.exit(EXIT_RULES)
    token = settings.api_token or None
    where = f"http://{settings.api_host}:{settings.api_port}"
    if token is None and not is_loopback(settings.api_host) and not allow_no_token:
        raise click.UsageError(
            f"no SEGSTREAM_API_TOKEN: refusing to serve {settings.api_host} to the network; "
            "set the token, listen on 127.0.0.1, or pass --allow-no-token"
        )
    log = logging.getLogger("stream.serving.api")
    if token is None:
        log.warning("no SEGSTREAM_API_TOKEN: /v1/ answers anyone who reaches %s", where)
    log.info(
        "serving %s from %s, namespace %s, on %s (docs at /docs)",
        settings.rules_file or "every segment in Redis", redact(settings.redis_url),
        settings.app_id, where,
    )  # fmt: skip
    # FastAPI and uvicorn are slow to import; only this command needs them.
    import uvicorn

    from stream.serving.api import ApiConfig, create_app

    config = ApiConfig(
        settings.redis_url, settings.app_id, ruleset, token, settings.redis_ca_file,
        thresholds_of(settings),
    )  # fmt: skip
    app = create_app(config)
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        loop="uvloop",
        http="httptools",
        log_level=settings.loglevel,
        log_config=None,  # uvicorn's loggers go through the root logger stream.logs set up
        access_log=False,
        timeout_graceful_shutdown=5,  # an idle client cannot hold a shutdown
    )


if __name__ == "__main__":
    command()

"""docker-compose.yml agrees with the code: services, ports, health checks, settings names.

Docker is not available where the tests run, so the file is checked by reading it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from stream.ops.kafka_dist import KAFKA_VERSION
from stream.settings import Settings, bootstrap_servers
from stream.settings_declared import env_names

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    result: dict[str, Any] = compose["services"]
    return result


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in service.get("environment", {}).items()}


def _host_ports(service: dict[str, Any]) -> dict[int, int]:
    """{host port: container port} from "host:container" entries."""
    pairs = (str(p).split(":") for p in service.get("ports", []))
    return {int(host): int(container) for host, container in pairs}


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    found = re.findall(r"(\w+)://([\w.-]*):(\d+)", value)
    return {name: (host, int(port)) for name, host, port in found}


def test_the_seven_services_exist(services: dict[str, Any]) -> None:
    assert set(services) == {
        "kafka",
        "redis",
        "worker",
        "materializer",
        "api",
        "prometheus",
        "grafana",
    }


def test_kafka_is_the_official_image_at_the_dev_broker_version(services: dict[str, Any]) -> None:
    assert services["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"


def test_kafka_runs_one_kraft_node_with_transactions_possible(services: dict[str, Any]) -> None:
    env = _env(services["kafka"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in key for key in env)
    node = env["KAFKA_NODE_ID"]
    controller = _listeners(env["KAFKA_LISTENERS"])[env["KAFKA_CONTROLLER_LISTENER_NAMES"]]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node}@kafka:{controller[1]}"
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == "1", key
    listeners = set(_listeners(env["KAFKA_LISTENERS"]))
    assert set(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].replace(":", ",").split(",")) >= (
        listeners
    )


def test_host_ports_match_the_settings_defaults(services: dict[str, Any]) -> None:
    defaults = Settings.from_env({})
    kafka_port = int(bootstrap_servers(defaults.broker).rpartition(":")[2])
    redis_port = urlsplit(defaults.redis_url).port
    kafka_env = _env(services["kafka"])
    advertised = _listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"])
    listening = _listeners(kafka_env["KAFKA_LISTENERS"])
    # The host reaches the listener advertised as localhost:<default port>.
    host_listener = next(name for name, (host, _) in advertised.items() if host == "localhost")
    assert advertised[host_listener][1] == kafka_port
    assert _host_ports(services["kafka"]) == {kafka_port: listening[host_listener][1]}
    assert _host_ports(services["redis"]) == {redis_port: 6379}


def test_every_service_has_a_health_check(services: dict[str, Any]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck", {})
        assert check.get("test"), f"{name} has no health check"


def test_worker_is_built_here_and_waits_for_healthy_services(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert (ROOT / worker["build"]["context"] / worker["build"]["dockerfile"]).is_file()
    command = worker["command"]
    assert command[:3] == ["worker", "--rules", "/rules/segments.yaml"]
    # The health check reads the status file the worker is told to write.
    status_file = command[command.index("--status-file") + 1]
    assert status_file in " ".join(worker["healthcheck"]["test"])
    assert worker["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    mounts = dict(v.split(":")[:2] for v in worker["volumes"] if v.startswith("./"))
    rules_dir = next(host for host, target in mounts.items() if target == "/rules")
    assert (ROOT / rules_dir / "segments.yaml").is_file()


def test_worker_sets_only_variables_that_settings_reads(services: dict[str, Any]) -> None:
    env = _env(services["worker"])
    names = {k for k in env if k.startswith("SEGSTREAM_")}
    assert names, "the worker sets no SEGSTREAM_ variables"
    assert names <= set(env_names()), names - set(env_names())
    Settings.from_env(env)  # and each value parses


def test_worker_reaches_kafka_and_redis_inside_the_network(services: dict[str, Any]) -> None:
    worker = Settings.from_env(_env(services["worker"]))
    internal = _listeners(_env(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"])
    assert bootstrap_servers(worker.broker) in {f"{h}:{p}" for h, p in internal.values()}
    assert bootstrap_servers(worker.broker).startswith("kafka:")
    assert urlsplit(worker.redis_url).hostname == "redis"


def test_dockerfile_installs_the_package_and_runs_segstream() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN pip install \.", text, re.MULTILINE)
    assert 'ENTRYPOINT ["segstream"]' in text
    # Everything the symlinks inside stream/ point at must be copied into the image.
    for target in ("schemas", "deploy/kafka/pom.xml", "stream", "pyproject.toml"):
        assert re.search(rf"^COPY .*\b{re.escape(target)}\b", text, re.MULTILINE), target


@pytest.mark.parametrize("name", ["materializer", "api"])
def test_serving_services_are_built_here_and_reach_redis(
    services: dict[str, Any], name: str
) -> None:
    service = services[name]
    assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    assert service["command"][0] == {"materializer": "materialize", "api": "api"}[name]
    env = _env(service)
    assert {k for k in env if k.startswith("SEGSTREAM_")} <= set(env_names())
    settings = Settings.from_env({k: v for k, v in env.items() if not v.startswith("${")})
    assert urlsplit(settings.redis_url).hostname == "redis"
    assert service["depends_on"]["redis"] == {"condition": "service_healthy"}


def test_materializer_health_check_reads_its_status_file(services: dict[str, Any]) -> None:
    service = services["materializer"]
    command = service["command"]
    status_file = command[command.index("--status-file") + 1]
    assert status_file in " ".join(service["healthcheck"]["test"])
    assert bootstrap_servers(Settings.from_env(_env(service)).broker).startswith("kafka:")


def test_api_is_published_on_the_hosts_loopback_at_the_default_port(
    services: dict[str, Any],
) -> None:
    port = Settings.from_env({}).api_port
    assert services["api"]["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """{container path: host path} of the service's bind mounts from this repository."""
    pairs = (str(v).split(":")[:2] for v in service.get("volumes", []) if str(v).startswith("./"))
    return {target: host for host, target in pairs}


def _targets(config: dict[str, Any]) -> dict[str, list[str]]:
    return {
        job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
        for job in config["scrape_configs"]
    }


def test_prometheus_runs_deploy_prometheus_aimed_at_the_services(
    services: dict[str, Any],
) -> None:
    service = services["prometheus"]
    flag = next(a for a in service["command"] if a.startswith("--config.file="))
    path = Path(flag.removeprefix("--config.file="))
    host_dir = ROOT / _mounts(service)[str(path.parent)]
    assert host_dir == ROOT / "deploy" / "prometheus"
    config = yaml.safe_load((host_dir / path.name).read_text())
    # The same jobs, rules and intervals as prometheus.yml; only the targets differ.
    reference = yaml.safe_load((host_dir / "prometheus.yml").read_text())
    assert set(_targets(config)) == set(_targets(reference))
    for one in (config, reference):
        for job in one["scrape_configs"]:
            job.pop("static_configs")
    assert config == reference
    worker = Settings.from_env(_env(services["worker"]))
    api = Settings.from_env({})
    assert worker.web_host == "0.0.0.0"
    assert _targets(yaml.safe_load((host_dir / path.name).read_text())) == {
        "segstream-worker": [f"worker:{worker.web_port}"],
        "segstream-api": [f"api:{api.api_port}"],
    }
    assert service["ports"] == ["127.0.0.1:9090:9090"]


def test_grafana_is_provisioned_with_deploy_grafana(services: dict[str, Any]) -> None:
    service = services["grafana"]
    mounts = _mounts(service)
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    assert provisioning == ROOT / "deploy" / "grafana" / "provisioning"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "segstream.yml").read_text())[
        "providers"
    ]
    dashboards = ROOT / mounts[provider["options"]["path"]]
    assert (dashboards / "segstream.json").is_file()
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    url = urlsplit(source["url"])
    assert url.hostname == "prometheus"
    assert f"{url.port}:{url.port}" in services["prometheus"]["ports"][0]
    assert service["depends_on"] == {"prometheus": {"condition": "service_healthy"}}
    assert service["ports"] == ["127.0.0.1:3000:3000"]

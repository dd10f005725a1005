"""deploy/k8s/base, rendered offline, validates against Kubernetes' schemas and agrees with the
code: settings names, ports and probe paths, the rules file, the Secret's keys."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from stream.settings import Settings
from stream.settings_declared import env_names
from tests.support import ROOT
from tests.support.kustomize import Object, render

BASE = ROOT / "deploy" / "k8s" / "base"
# The oldest Kubernetes the manifests are meant for, and the newest kubernetes-validate knows.
VERSIONS = ("1.29", kubernetes_validate.latest_version())
SECRET = "segstream-credentials"
SECRET_KEYS = {"redis-url", "kafka-sasl-username", "kafka-sasl-password", "api-token"}
# Declared by the security work of issue 14 (SASL_SSL), which lands beside this; until it
# has, these names are the ones assumed here. Once stream/settings.py declares them the set
# below is empty and every name is checked against the settings.
SECURITY_NAMES = {"SEGSTREAM_KAFKA_SASL_USERNAME", "SEGSTREAM_KAFKA_SASL_PASSWORD"}


@pytest.fixture(scope="module")
def objects() -> list[Object]:
    return render(BASE)


def _one(objects: list[Object], kind: str, name: str) -> Object:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _container(workload: Object) -> dict[str, Any]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = container
    return result


def _env(objects: list[Object], workload: Object) -> dict[str, str]:
    """The container's literal variables: its config maps' and its own `value`s."""
    container = _container(workload)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= _one(objects, "ConfigMap", source["configMapRef"]["name"])["data"]
    env |= {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    return env


def _settings(objects: list[Object], workload: Object) -> Settings:
    """The settings the container's literal `SEGSTREAM_` variables make."""
    env = _env(objects, workload)
    return Settings.from_env({k: v for k, v in env.items() if k.startswith("SEGSTREAM_")})


def _secret_refs(workload: Object) -> dict[str, dict[str, Any]]:
    return {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in _container(workload).get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }


def _port(container: dict[str, Any], name: str) -> int:
    port: int = next(p["containerPort"] for p in container["ports"] if p["name"] == name)
    return port


def _workloads(objects: list[Object]) -> list[Object]:
    return [o for o in objects if o["kind"] in ("StatefulSet", "Deployment")]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_validates_against_the_kubernetes_schemas(
    objects: list[Object], version: str
) -> None:
    assert objects
    for obj in objects:
        # strict: an unknown (misspelt) field is an error, not ignored.
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_python_rendering_is_kustomize_s() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed; the manifests are rendered in Python only")
    done = subprocess.run([kubectl, "kustomize", str(BASE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    theirs = [doc for doc in yaml.safe_load_all(done.stdout) if doc]

    def key(obj: Object) -> tuple[str, str]:
        return obj["kind"], obj["metadata"]["name"]

    assert sorted(render(BASE), key=key) == sorted(theirs, key=key)


def test_the_rules_are_the_example_file() -> None:
    example = (ROOT / "stream" / "examples" / "segments.yaml").read_text()
    assert (BASE / "segments.yaml").read_text() == example


def test_every_variable_set_is_a_setting_and_parses(objects: list[Object]) -> None:
    pending = SECURITY_NAMES - set(env_names())
    for workload in _workloads(objects):
        env = _env(objects, workload)
        names = {n for n in [*env, *_secret_refs(workload)] if n.startswith("SEGSTREAM_")}
        assert names <= set(env_names()) | pending, names - set(env_names()) - pending
        # $(POD_NAME) is expanded by the kubelet, so the value is a path either way.
        _settings(objects, workload)


def test_credentials_come_from_the_one_secret(objects: list[Object]) -> None:
    page = (ROOT / "docs" / "operations.md").read_text()
    used: set[str] = set()
    for workload in _workloads(objects):
        for name, ref in _secret_refs(workload).items():
            assert ref["name"] == SECRET, name
            used.add(ref["key"])
        # No credential is written into a manifest.
        literal = set(_env(objects, workload))
        assert not literal & {"SEGSTREAM_REDIS_URL", "SEGSTREAM_API_TOKEN", *SECURITY_NAMES}
    assert used == SECRET_KEYS
    for key in SECRET_KEYS:
        assert f"`{key}`" in page, f"docs/operations.md does not say what secret key {key} is"


def test_the_worker_keeps_its_state_on_a_volume_per_pod(objects: list[Object]) -> None:
    worker = _one(objects, "StatefulSet", "segstream-worker")
    container = _container(worker)
    (claim,) = worker["spec"]["volumeClaimTemplates"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == claim["metadata"]["name"])
    state_dir = _env(objects, worker)["SEGSTREAM_STATE_DIR"]
    # A directory per pod, inside the pod's own volume: static membership is derived from it.
    assert state_dir == f"{mount['mountPath']}/$(POD_NAME)"
    pod_name = next(e for e in container["env"] if e["name"] == "POD_NAME")
    assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_the_worker_s_probes_are_its_health_endpoints(objects: list[Object]) -> None:
    worker = _one(objects, "StatefulSet", "segstream-worker")
    container = _container(worker)
    settings = _settings(objects, worker)
    assert settings.web_host == "0.0.0.0"
    assert _port(container, "web") == settings.web_port > 0
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "web"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "web"}
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(settings.web_port)
    # Enough for the batch in flight (SEGSTREAM_BATCH_WAIT to fill, then its flush) and
    # Faust's shutdown: the default 30 s is not.
    grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= 60 > 10 * settings.batch_wait.total_seconds()


def test_the_worker_has_a_headless_service_and_a_disruption_budget(
    objects: list[Object],
) -> None:
    worker = _one(objects, "StatefulSet", "segstream-worker")
    labels = worker["spec"]["template"]["metadata"]["labels"]
    service = _one(objects, "Service", worker["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"].items() <= labels.items()
    (budget,) = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["maxUnavailable"] == 1


def test_the_api_is_probed_on_its_endpoints_behind_a_service(objects: list[Object]) -> None:
    api = _one(objects, "Deployment", "segstream-api")
    container = _container(api)
    settings = _settings(objects, api)
    assert settings.api_host == "0.0.0.0"
    assert _port(container, "http") == settings.api_port
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert "--allow-no-token" not in container["args"]
    service = _one(objects, "Service", "segstream-api")
    assert (
        service["spec"]["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items()
    )
    assert service["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize("name", ["segstream-worker", "segstream-api"])
def test_the_rules_config_map_is_the_file_the_program_reads(
    objects: list[Object], name: str
) -> None:
    workload = next(o for o in _workloads(objects) if o["metadata"]["name"] == name)
    container = _container(workload)
    path = container["args"][container["args"].index("--rules") + 1]
    directory, _, file = path.rpartition("/")
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == directory)
    volume = next(
        v for v in workload["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    )
    rules = _one(objects, "ConfigMap", volume["configMap"]["name"])
    assert rules["data"][file] == (BASE / "segments.yaml").read_text()


def test_the_materializer_runs_alone(objects: list[Object]) -> None:
    materializer = _one(objects, "Deployment", "segstream-materializer")
    assert materializer["spec"]["replicas"] == 1
    container = _container(materializer)
    status_file = container["args"][container["args"].index("--status-file") + 1]
    assert status_file in " ".join(container["livenessProbe"]["exec"]["command"])

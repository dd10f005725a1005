"""The worker's HTTP endpoints on Faust's web server: /healthz, /readyz and /metrics.

Faust's web server, not a second one: it already runs on `--web-port` inside the worker's
event loop, so the views read the worker's state without locks, and it starts before the
consumer joins the group, so `/readyz` answers (503) through start-up and recovery.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stream.app.factory import WorkerApp
from stream.app.runtime import Runtime
from stream.app.telemetry import LAG_EVERY_S, LagWatch, WorkerCollector, readiness
from stream.app.versions import Versions
from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity
from stream.ops.metrics import Counters


def install_web(
    wapp: WorkerApp,
    runtime: Runtime,
    metrics: Counters,
    versions: Versions,
    bootstrap: str,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Serve the endpoints on `wapp`'s web server, and sample the lag they report."""
    app = wapp.app
    topics = wapp.topics
    inputs = (topics.events, topics.repartition)
    lag = LagWatch(bootstrap, app.conf.id, inputs, runtime.assignment, security)
    metrics.collect_with(WorkerCollector(runtime, app, versions, lag))

    async def healthz(self: Any, request: Any) -> Any:
        """200 while the process runs."""
        return self.json({"status": "ok"})

    async def readyz(self: Any, request: Any) -> Any:
        """200 once every assigned partition is restored and loaded, else 503 and why."""
        found = readiness(runtime, app)
        return self.json(found.to_json(), status=200 if found.ready else 503)

    async def metrics_view(self: Any, request: Any) -> Any:
        """The metrics in Prometheus's text format."""
        body = generate_latest(metrics.registry)
        return self.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.page("/healthz")(healthz)
    app.page("/readyz")(readyz)
    app.page("/metrics")(metrics_view)
    app.timer(LAG_EVERY_S, name="lag")(lag.sample)

    async def close_lag(sender: Any, **_: Any) -> None:
        await lag.close()

    app.on_before_shutdown.connect(close_lag, weak=False)

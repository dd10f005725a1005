"""Topic administration the CLI tools share: create missing topics, delete a run's topics."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity


async def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Create each topic in `names` that does not exist yet, with `partitions` partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security.client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in dict.fromkeys(names) if n not in existing]
        if not missing:
            return
        with contextlib.suppress(TopicAlreadyExistsError):  # another process was first
            await admin.create_topics(
                [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in missing]
            )
    finally:
        await admin.close()


async def delete_topics(
    bootstrap: str, prefix: str, security: KafkaSecurity = PLAINTEXT
) -> list[str]:
    """Delete every topic whose name starts with `prefix`; returns the names it deleted."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security.client_options())
    await admin.start()
    try:
        doomed = sorted(n for n in await admin.list_topics() if n.startswith(prefix))
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()

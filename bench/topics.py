"""Many topics on a harness cluster, quickly and on a busy machine: CreateTopics in batches,
retried when the controller is too slow to answer in time, then one wait until every
partition has a leader and a full ISR."""

from __future__ import annotations

import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import NewTopic

from testcluster import KafkaCluster

BATCH = 20


def create_topics(
    cluster: KafkaCluster, names: list[str], partitions: int, rf: int, timeout: float = 1800
) -> None:
    deadline = time.monotonic() + timeout
    todo = list(names)
    while todo:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(todo)} topics not created within {timeout:g}s")
        batch, todo = todo[:BATCH], todo[BATCH:]
        futures = cluster.admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=rf) for n in batch],
            operation_timeout=60,
            request_timeout=120,
        )
        for name, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].name() == "TOPIC_ALREADY_EXISTS":
                    continue
                todo.append(name)  # timed out or refused for now: asked again later
                time.sleep(1)

    def complete() -> bool:
        metadata = cluster.metadata()
        for name in names:
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None or len(topic.partitions) != partitions:
                return False
            if any(p.leader < 0 or len(p.isrs) != rf for p in topic.partitions.values()):
                return False
        return True

    cluster.wait_for(complete, max(60.0, deadline - time.monotonic()), "every topic complete")

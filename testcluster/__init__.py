"""Real local Kafka clusters for tests, benchmarks and the demo (not part of the wheel).

    with ZkKafkaCluster(tmp_path) as cluster:       # ZooKeeper ensemble + Kafka 3.9 brokers
        cluster.create_topic("t", partitions=1, rf=3)
        cluster.broker(cluster.isr_of("t")[-1]).pause()

Kafka comes from Maven Central jars (see `testcluster.dist`), cached outside the repo.
"""

import logging

from testcluster.broker import KafkaNode
from testcluster.cluster import ClusterError, KafkaCluster
from testcluster.dist import DistError, KafkaDist, kraft_dist, zookeeper_dist
from testcluster.kraft import KraftCluster
from testcluster.node import Node
from testcluster.reaper import reap
from testcluster.tools import ToolError
from testcluster.traffic import RateConsumer, RateProducer
from testcluster.waiting import WaitTimeout, wait_for
from testcluster.zkcluster import ZkKafkaCluster
from testcluster.zookeeper import ZooKeeperNode

# Client log lines (librdkafka's "connection refused" while a broker is down, ...) are for
# whoever configures logging, pytest's capture for one; never Python's last-resort stderr.
logging.getLogger("testcluster").addHandler(logging.NullHandler())

__all__ = [
    "ClusterError",
    "DistError",
    "KafkaCluster",
    "KafkaDist",
    "KafkaNode",
    "KraftCluster",
    "Node",
    "RateConsumer",
    "RateProducer",
    "ToolError",
    "WaitTimeout",
    "ZkKafkaCluster",
    "ZooKeeperNode",
    "kraft_dist",
    "reap",
    "wait_for",
    "zookeeper_dist",
]

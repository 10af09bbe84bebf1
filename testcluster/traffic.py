"""Background traffic at a set rate: a producer counting acks, a consumer group member whose
pace (or silence) creates consumer lag on demand."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from testcluster.waiting import wait_for

CLIENT_LOG = logging.getLogger("testcluster.client")


class _Pacer:
    """Paces events at `rate` per second; 0 means "hold", None means "as fast as possible".

    After a stall (a paused broker blocking the loop) it does not burst to catch up.
    """

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._next = time.monotonic()

    def set(self, rate: float | None) -> None:
        self.rate = rate
        self._next = time.monotonic()

    def delay(self) -> float:
        """Seconds to wait before the next event (inf while holding)."""
        if self.rate is None:
            return 0.0
        if self.rate <= 0:
            return float("inf")
        now = time.monotonic()
        self._next = max(self._next, now - 1.0)
        return max(0.0, self._next - now)

    def took_one(self) -> None:
        if self.rate:
            self._next += 1.0 / self.rate


class _Worker:
    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._guarded, name=name, daemon=True)
        self._lock = threading.Lock()
        self.errors: list[str] = []

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _guarded(self) -> None:
        try:
            self._run()
        except Exception as exc:  # surfaced through .errors rather than lost in a thread
            self._error(f"{type(exc).__name__}: {exc}")

    def _run(self) -> None:
        raise NotImplementedError

    def _error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)
            del self.errors[:-20]


class RateProducer(_Worker):
    """Produces `rate` records per second to `topic` from a background thread.

    `acked` counts records the cluster acknowledged (with `acks`), `failed` those that
    errored or timed out.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        rate: float | None = 100.0,
        *,
        acks: str | int = "all",
        value_size: int = 100,
        key: bytes | None = None,
        config: Mapping[str, Any] | None = None,
        flush_timeout: float = 10.0,
    ) -> None:
        super().__init__(f"producer-{topic}")
        self.topic = topic
        self.key = key
        self.value_size = value_size
        self.flush_timeout = flush_timeout
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self._pacer = _Pacer(rate)
        self._config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "acks": str(acks),
            "linger.ms": 5,
            "message.timeout.ms": 30000,
            # No duplicates from retries, so acked records == records in the log; librdkafka
            # only allows idempotence together with acks=all.
            "enable.idempotence": str(acks) in ("all", "-1"),
            "logger": CLIENT_LOG,
            **(config or {}),
        }

    def set_rate(self, rate: float | None) -> None:
        self._pacer.set(rate)

    def wait_acked(self, count: int, timeout: float = 30.0) -> int:
        """Block until at least `count` records are acknowledged in total."""
        return wait_for(
            lambda: self.acked if self.acked >= count else 0,
            timeout,
            f"{count} acked records on {self.topic} (acked {self.acked}, failed "
            f"{self.failed}, errors {self.errors[-3:]})",
        )

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        with self._lock:
            if err is None:
                self.acked += 1
            else:
                self.failed += 1
        if err is not None:
            self._error(str(err))

    def _run(self) -> None:
        producer = Producer(self._config)
        try:
            while not self._stop.is_set():
                delay = self._pacer.delay()
                if delay > 0:
                    producer.poll(min(delay, 0.1))
                    continue
                value = str(self.sent).encode().ljust(self.value_size, b".")
                try:
                    producer.produce(self.topic, value, self.key, on_delivery=self._on_delivery)
                except BufferError:
                    producer.poll(0.1)  # local queue full: the cluster is not keeping up
                    continue
                self.sent += 1
                self._pacer.took_one()
                producer.poll(0)
        finally:
            producer.flush(self.flush_timeout)
            producer.close()


class RateConsumer(_Worker):
    """A consumer group member reading `topic` at `rate` records per second and committing.

    `set_rate(0)` keeps it in the group but reading nothing (its partitions are paused), so
    lag grows while the group stays Stable; `stop()` commits and leaves the group.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        group: str,
        rate: float | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        commit_interval: float = 0.5,
    ) -> None:
        super().__init__(f"consumer-{group}")
        self.topic = topic
        self.group = group
        self.commit_interval = commit_interval
        self.consumed = 0
        # Per partition: a member need not have read (nor committed) every partition it owns
        # by the time a test stops it, so accounting is per partition.
        self.consumed_by_partition: dict[int, int] = {}
        self.assignment: list[TopicPartition] = []
        self._ever_assigned = False
        # Errors librdkafka recovers from by itself while the member settles (`_settling`).
        self.notices: list[str] = []
        self._pacer = _Pacer(rate)
        self._config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "logger": CLIENT_LOG,
            **(config or {}),
        }

    def set_rate(self, rate: float | None) -> None:
        self._pacer.set(rate)

    def wait_assigned(self, timeout: float = 30.0) -> list[TopicPartition]:
        return wait_for(lambda: list(self.assignment), timeout, f"{self.group} to get partitions")

    def wait_consumed(self, count: int, timeout: float = 30.0) -> int:
        return wait_for(
            lambda: self.consumed if self.consumed >= count else 0,
            timeout,
            f"{self.group} to consume {count} records (consumed {self.consumed}, "
            f"errors {self.errors[-3:]}, notices {self.notices[-3:]})",
        )

    def _run(self) -> None:
        consumer = Consumer(self._config)
        consumer.subscribe([self.topic])
        last_commit = time.monotonic()
        dirty = False
        held: set[TopicPartition] = set()
        try:
            while not self._stop.is_set():
                self.assignment = consumer.assignment()
                self._ever_assigned = self._ever_assigned or bool(self.assignment)
                delay = self._pacer.delay()
                holding = delay == float("inf")
                if holding and self.assignment and set(self.assignment) != held:
                    # Paused partitions keep the member in the group, reading nothing.
                    consumer.pause(self.assignment)
                    held = set(self.assignment)
                elif not holding and held:
                    consumer.resume(list(held))
                    held = set()
                if 0 < delay < float("inf"):
                    self._stop.wait(min(delay, 0.1))
                    continue
                # Polling also while holding: it serves rebalances and max.poll.interval.ms.
                message = consumer.poll(0.1)
                if message is not None:
                    error = message.error()
                    if error is not None and self._settling(error):
                        self.notices.append(str(error))
                        del self.notices[:-20]
                    elif error is not None:
                        self._error(str(error))
                    else:
                        self.consumed += 1
                        partition = message.partition()
                        if partition is not None:  # always set on a message that was read
                            counts = self.consumed_by_partition
                            counts[partition] = counts.get(partition, 0) + 1
                        self._pacer.took_one()
                        dirty = True
                if dirty and time.monotonic() - last_commit >= self.commit_interval:
                    self._commit(consumer, asynchronous=True)
                    last_commit = time.monotonic()
                    dirty = False
            if dirty:
                self._commit(consumer, asynchronous=False)
        finally:
            consumer.close()

    def _settling(self, error: KafkaError) -> bool:
        """A subscribed topic that the broker asked does not list yet, before this member
        ever had partitions: each broker updates its metadata cache on its own, so right
        after a topic's creation one may not know it for a moment (seen under a CPU hog).
        librdkafka asks again by itself; this is a notice, not an error. Once the member
        has had partitions, the same error (the topic deleted) is an error."""
        return error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART and not self._ever_assigned

    def _commit(self, consumer: Consumer, *, asynchronous: bool) -> None:
        try:
            if asynchronous:
                consumer.commit(asynchronous=True)
            else:
                consumer.commit(asynchronous=False)
        except Exception as exc:  # e.g. no offset to commit, coordinator moving
            self._error(f"commit: {exc}")

"""High availability: of several replicas, only the one holding a ZooKeeper lock notifies.

kazoo's Lock recipe (an ephemeral sequential znode per contender; the lowest holds it)
elects the notifier. The notifier publishes its incident state (alerts, groups, undelivered
notifications) to a znode after each change, so that a replica taking over continues the
open incidents instead of paging them again. While its session is SUSPENDED a leader stops
notifying (it cannot know whether it still holds the lock); notifications wait in its
outbox, nothing is lost.

Clusters without ZooKeeper: see docs/alerting.md (one replica with a persistent state_dir).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import zlib
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, LockTimeout, NoNodeError
from kazoo.recipe.lock import Lock

from kafka_watchdog.config.zookeeper import ZooKeeperConfig

log = logging.getLogger(__name__)


class ZooKeeperLeadership:
    def __init__(self, zk: ZooKeeperConfig, group: str, identity: str | None = None) -> None:
        self.zk = zk
        self.root = f"{zk.chroot}/kafka-watchdog/{group}"
        self.identity = identity or f"{socket.gethostname()}-{os.getpid()}"
        self._client: KazooClient | None = None
        self._lock: Lock | None = None
        # Set from kazoo's thread (session states) and read by the loop.
        self._holding = threading.Event()  # set while the lock is held
        self._suspended = threading.Event()

    @property
    def is_leader(self) -> bool:
        return self._holding.is_set() and not self._suspended.is_set()

    async def start(self) -> None:
        """Start connecting, in the background: an unreachable ZooKeeper must not stop the
        daemon (it used to exit with a KazooTimeoutError traceback). Until this replica
        holds the lock it does not notify; `contend` says so once, clearly."""
        # The lock is a write: this session may not be read-only.
        self._client = KazooClient(**{**self.zk.kazoo_options(), "read_only": False})
        self._client.add_listener(self._on_state)
        self._client.start_async()  # kazoo reconnects forever (connection_retry)
        log.info("alerting HA: %s contends for %s", self.identity, self.root)

    async def _connected(self, client: KazooClient) -> None:
        """Wait for the session and the lock's parent path; one clear line while it fails."""
        loop = asyncio.get_running_loop()
        warned_at = loop.time() + self.zk.connect_timeout
        warned = False
        while True:
            if client.connected:
                try:
                    await asyncio.to_thread(client.ensure_path, self.root)
                except KazooException as exc:
                    log.debug("alerting HA: cannot create %s yet: %r", self.root, exc)
                else:
                    if warned:
                        log.warning("alerting HA: ZooKeeper %s reachable again", self.zk.connect)
                    return
            if not warned and loop.time() >= warned_at:
                warned = True
                log.error(
                    "alerting HA: ZooKeeper %s is unreachable; this replica does not notify "
                    "until it holds the notifier lock (notifications wait in its outbox; "
                    "kafka_watchdog_alerting_notifier is 0). docs/alerting.md, High "
                    "availability",
                    self.zk.connect,
                )
            await asyncio.sleep(0.5)

    def _on_state(self, state: str) -> None:
        # kazoo's thread: must not block.
        if state == KazooState.SUSPENDED:
            self._suspended.set()
        elif state == KazooState.CONNECTED:
            self._suspended.clear()
        elif state == KazooState.LOST:
            self._holding.clear()  # the ephemeral lock node is gone with the session

    async def contend(self) -> None:
        """Take the lock, hold it while the session lasts, take it again when lost: the
        task the supervisor runs. Each attempt blocks kazoo's way in a thread for 2 s at
        most, so a stop is never held up longer."""
        client = self._client
        assert client is not None
        try:
            await self._connected(client)
            while True:
                # A fresh Lock after each loss: the old one may still believe it is held.
                lock = self._lock = client.Lock(f"{self.root}/lock", self.identity)
                try:
                    if not await asyncio.to_thread(lock.acquire, True, 2.0):
                        continue
                except LockTimeout:
                    continue
                except KazooException as exc:
                    log.debug("alerting HA: lock attempt failed: %r", exc)
                    await asyncio.sleep(1.0)
                    continue
                log.warning("alerting HA: %s is now the notifier", self.identity)
                self._holding.set()
                # Both change on kazoo's thread (a lost session, a deleted node): polled.
                while self._holding.is_set() and lock.is_acquired:  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
                self._holding.clear()
                log.warning("alerting HA: %s lost the notifier lock", self.identity)
        finally:
            # Stopping: the lock goes with the session, closed by `stop`.
            self._holding.clear()

    async def publish(self, state: dict[str, Any]) -> None:
        """The notifier's state for whoever takes over (zlib-compressed JSON)."""
        if self._client is None or not self.is_leader:
            return
        data = zlib.compress(json.dumps(state, separators=(",", ":")).encode())
        path = f"{self.root}/state"
        client = self._client

        def write() -> None:
            try:
                client.set(path, data)
            except NoNodeError:
                client.create(path, data, makepath=True)

        try:
            await asyncio.to_thread(write)
        except KazooException as exc:
            log.warning("alerting HA: cannot publish the incident state: %r", exc)

    async def fetch(self) -> dict[str, Any] | None:
        if self._client is None:
            return None
        client = self._client
        try:
            data, _ = await asyncio.to_thread(client.get, f"{self.root}/state")
        except NoNodeError:
            return None
        except KazooException as exc:
            log.warning("alerting HA: cannot read the incident state: %r", exc)
            return None
        try:
            value = json.loads(zlib.decompress(data))
        except (zlib.error, ValueError) as exc:
            log.error("alerting HA: the published incident state is unreadable: %r", exc)
            return None
        return value if isinstance(value, dict) else None

    async def stop(self) -> None:
        """End the session: its ephemeral lock node (the lock, if held) goes with it."""
        if self._lock is not None:
            self._lock.cancel()  # an acquire still waiting in its thread gives up
        if self._client is None:
            return
        client, self._client = self._client, None
        if client.connected:
            await asyncio.to_thread(client.stop)
            await asyncio.to_thread(client.close)
        else:
            # No session (and so no lock) to end: stop only has to end the reconnecting
            # thread, which may sit in a connect attempt for seconds. Not waited for.
            threading.Thread(
                target=_stop_and_close, args=(client,), name="ha-kazoo-stop", daemon=True
            ).start()


def _stop_and_close(client: KazooClient) -> None:
    client.stop()
    client.close()

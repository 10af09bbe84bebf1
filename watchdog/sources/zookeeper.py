"""ZooKeeper source (ZooKeeper-mode clusters): the session and its checks.

The client connects WITHOUT the chroot and prefixes every path itself: when the configured
chroot is wrong, it can then look around and tell the user where Kafka really is.
kazoo calls back on its own thread; state changes are handed to the loop thread-safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, NoNodeError

from kafka_watchdog.config.schema import ClusterConfig
from kafka_watchdog.sources.errors import SourceError

log = logging.getLogger(__name__)


class ZooKeeperSource:
    """One kazoo session to one cluster's ensemble. Construct without I/O; `start()` connects."""

    def __init__(
        self,
        cluster: ClusterConfig,
        on_state: Callable[[str], None],
    ) -> None:
        if cluster.zookeeper is None:
            raise ValueError("cluster has no zookeeper section")
        self.cluster = cluster
        self.zk = cluster.zookeeper
        self._on_state = on_state
        self._client: KazooClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = asyncio.Event()  # set (on the loop) when the session connects

    def path(self, relative: str) -> str:
        return self.zk.chroot + relative

    def _listener(self, state: str) -> None:
        # kazoo's thread; must not block.
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._on_state, str(state))
            if state == KazooState.CONNECTED:
                self._loop.call_soon_threadsafe(self._connected.set)

    async def start(self) -> None:
        """Connect and check that the chroot holds a Kafka cluster; raises SourceError."""
        self._loop = asyncio.get_running_loop()
        if self._client is None:
            self._client = KazooClient(**self.zk.kazoo_options())
            self._client.add_listener(self._listener)
        if self._client.connected:  # an earlier start() connected but its check failed
            await self.check_chroot()
            return
        # Waited for on the loop rather than in a thread blocked in start(): a stop (SIGTERM)
        # must not wait for a connect attempt to an unreachable ensemble.
        self._connected.clear()
        self._client.start_async()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), self.zk.connect_timeout)
        if not self._client.connected:
            # Stop the retrying connection thread (not waited for: see `close`); the next
            # attempt starts afresh with a new client.
            client, self._client = self._client, None
            client.remove_listener(self._listener)
            threading.Thread(
                target=_stop_and_close, args=(client,), name="kazoo-stop", daemon=True
            ).start()
            raise SourceError(
                f"cannot reach ZooKeeper {self.zk.hosts} for cluster {self.cluster.name!r} "
                f"within {self.zk.connect_timeout:g}s (check zookeeper.connect and the network)"
            ) from None
        self._on_state(str(KazooState.CONNECTED))
        await self.check_chroot()

    async def check_chroot(self) -> None:
        client = self._require()
        ids = self.path("/brokers/ids")
        if await asyncio.to_thread(client.exists, ids):
            return
        found = await asyncio.to_thread(self._find_kafka_roots, client)
        hint = (
            f"Kafka data was found under: {', '.join(found)}; set zookeeper.connect to "
            f"{self.zk.hosts}{found[0] if found[0] != '/' else ''}"
            if found
            else "no Kafka data was found under any chroot of depth 1 or 2"
        )
        raise SourceError(
            f"ZooKeeper {self.zk.hosts} has no {ids} for cluster {self.cluster.name!r}: the "
            f"chroot {self.zk.chroot or '(none)'!r} does not match the brokers' "
            f"zookeeper.connect. {hint}"
        )

    @staticmethod
    def _find_kafka_roots(client: KazooClient) -> list[str]:
        found: list[str] = []
        if client.exists("/brokers/ids"):
            found.append("/")

        def visit(base: str, depth: int) -> None:
            try:
                children = client.get_children(base or "/")
            except (NoNodeError, KazooException):
                return
            for child in sorted(children):
                if child == "zookeeper" and not base:
                    continue
                node = f"{base}/{child}"
                if client.exists(f"{node}/brokers/ids"):
                    found.append(node)
                elif depth < 2:
                    visit(node, depth + 1)

        visit("", 1)
        return found

    @property
    def client(self) -> KazooClient:
        return self._require()

    def _require(self) -> KazooClient:
        if self._client is None:
            raise RuntimeError("ZooKeeperSource.start() was not called")
        return self._client

    async def broker_ids(self) -> list[int]:
        client = self._require()
        try:
            children = await asyncio.to_thread(client.get_children, self.path("/brokers/ids"))
        except KazooException as exc:
            raise SourceError(f"ZooKeeper read failed for {self.cluster.name!r}: {exc!r}") from None
        return sorted(int(c) for c in children if c.isdigit())

    async def cluster_id(self) -> str | None:
        """The id in /cluster/id, to check the chroot points at the cluster we think."""
        client = self._require()
        try:
            data, _ = await asyncio.to_thread(client.get, self.path("/cluster/id"))
            value = json.loads(data.decode("utf-8")).get("id")
        except NoNodeError:
            return None
        except (KazooException, ValueError, AttributeError, UnicodeDecodeError) as exc:
            log.warning("unreadable %s: %r", self.path("/cluster/id"), exc)
            return None
        return value if isinstance(value, str) else None

    async def close(self) -> None:
        if self._client is None:
            return
        client, self._client = self._client, None
        client.remove_listener(self._listener)
        if client.connected:
            # Ends the session: its watches go at once on the server.
            await asyncio.to_thread(client.stop)
            await asyncio.to_thread(client.close)
        else:
            # No session to end: stop only has to end the reconnecting thread, which may sit
            # in a connect attempt for seconds (an unreachable ensemble). Not waited for.
            threading.Thread(
                target=_stop_and_close, args=(client,), name="kazoo-stop", daemon=True
            ).start()


def _stop_and_close(client: KazooClient) -> None:
    client.stop()
    client.close()

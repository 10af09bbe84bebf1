"""Which session clusters each integration test uses, and what follows from it: the
pytest-xdist group a test runs in, the order tests run in, and when a session cluster is no
longer needed.

Pure functions of the collected items (unit-tested in tests/unit/test_integration_groups.py);
conftest.py wires them into pytest's hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# The session clusters, in the order a test that uses several is grouped by.
SESSION_CLUSTERS = ("zk", "kraft", "secure")


def clusters_used(item: Any) -> list[str]:
    """The session clusters a test uses, directly, through its fixtures, or as the cluster
    kind it is parametrized with (`zk`, `zk-watches`, `kraft`, ...), in SESSION_CLUSTERS order."""
    params = getattr(item, "callspec", None)
    kinds = [str(v) for v in params.params.values()] if params is not None else []
    names = getattr(item, "fixturenames", ())
    return [
        label
        for label in SESSION_CLUSTERS
        if f"{label}_cluster" in names
        or any(kind == label or kind.startswith(f"{label}-") for kind in kinds)
    ]


def worker_group(item: Any) -> str:
    """The pytest-xdist group a test runs in: the first session cluster it uses, else its
    module.

    Each group runs whole on one worker: a session cluster starts once per run, not once
    per worker, and a module's tests that build on each other (test_prometheus_kit's
    numbered steps) keep their order."""
    used = clusters_used(item)
    return used[0] if used else item.path.stem


def by_group(items: list[Any]) -> None:
    """Reorder `items` in place so each group's tests are contiguous, groups in the order
    they first appear and tests within a group in collection order (a stable sort).

    In one process this is what lets a session cluster stop once its group is done
    (`last_users`), instead of ticking through the whole run beside the next clusters: on a
    busy machine every idle JVM's timers compete with the tests' own."""
    first: dict[str, int] = {}
    for item in items:
        first.setdefault(worker_group(item), len(first))
    items.sort(key=lambda item: first[worker_group(item)])


def last_users(items: Iterable[Any]) -> dict[str, str]:
    """For each session cluster, the node id of the last test (in run order) that uses it:
    once that test's teardown is done, the cluster is no longer needed."""
    last: dict[str, str] = {}
    for item in items:
        for label in clusters_used(item):
            last[label] = item.nodeid
    return last

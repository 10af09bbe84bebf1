"""glibc malloc settings (sources/malloc.py): the user's GLIBC_TUNABLES always wins."""

from __future__ import annotations

import platform

import pytest

from kafka_watchdog.sources.malloc import child_environment, tune_this_process


def test_the_worker_gets_the_settings_unless_the_user_chose_their_own() -> None:
    env = child_environment({"PATH": "/bin"})
    assert env["PATH"] == "/bin"
    assert env["GLIBC_TUNABLES"] == ("glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=1048576")
    mine = "glibc.malloc.arena_max=8"
    assert child_environment({"GLIBC_TUNABLES": mine})["GLIBC_TUNABLES"] == mine


def test_the_daemon_leaves_malloc_alone_when_the_user_set_glibc_tunables() -> None:
    assert tune_this_process({"GLIBC_TUNABLES": "glibc.malloc.arena_max=8"}) is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_glibc_takes_the_settings() -> None:
    assert tune_this_process({}) is True

"""Unit tests are pure: any attempt to open a network socket fails the test.

Unix sockets stay allowed because asyncio's event loop wakes itself up through a socketpair.
"""

from collections.abc import Iterator

import pytest
import pytest_socket

# urllib3 (under the MSK token signer's botocore) opens an AF_INET6 socket at import to learn
# whether IPv6 exists; imported here, before sockets are blocked, that probe is not a test's.
import urllib3  # noqa: F401

from kafka_watchdog.config import secrets


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    secrets.clear()
    yield
    secrets.clear()

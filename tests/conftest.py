"""Fixtures every test folder shares: a real smart-HTTP git server on 127.0.0.1 and one
Kafka broker (tests keep apart by topics of their own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.gitserver import GitServer
from tests.support.services import kafka


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    with GitServer(tmp_path_factory.mktemp("git")) as server:
        yield server


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shared broker's address."""
    with kafka(tmp_path_factory.mktemp("kafka")) as running:
        yield running.bootstrap

"""The embedded broker's faults, as a user meets them: each is one clear line that says
what happened and what to do, and nothing in the data dir is deleted."""

from __future__ import annotations

import base64
import socket
import uuid
from pathlib import Path

import pytest

from infra.broker import KafkaBroker
from infra.broker_config import new_cluster_id
from infra.embedded import free_port
from infra.kafka_jars import BrokerError, kafka_libs
from tests.support.up import one_clear_line, path_without, run_up, snapshot


def test_a_restart_keeps_the_data_and_a_second_broker_on_the_same_dir_is_refused(
        tmp_path: Path) -> None:
    first = KafkaBroker(tmp_path / "kafka", 0, tmp_path / "logs").start()
    try:
        with pytest.raises(BrokerError, match="in use by another broker"):
            KafkaBroker(tmp_path / "kafka", 0, tmp_path / "logs2").start()
        meta = (tmp_path / "kafka" / "meta.properties").read_bytes()
    finally:
        first.stop()
    controller = int((tmp_path / "kafka" / "controller.port").read_text())
    with socket.socket() as taken:  # what the quorum knows this broker by, taken
        taken.bind(("127.0.0.1", controller))
        taken.listen()
        with pytest.raises(BrokerError, match=f"port {controller}, the Kafka controller"):
            KafkaBroker(tmp_path / "kafka", first.port, tmp_path / "logs").start()
    again = KafkaBroker(tmp_path / "kafka", first.port, tmp_path / "logs").start()
    again.stop()
    assert (tmp_path / "kafka" / "meta.properties").read_bytes() == meta  # not formatted anew
    assert (tmp_path / "logs" / "kafka" / "server.log").stat().st_size > 0


def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BrokerError, match=f"port {port} is in use"):
            KafkaBroker(tmp_path / "kafka", port, tmp_path / "logs").start()
    assert not (tmp_path / "kafka").exists()


def test_a_corrupt_data_dir_is_left_as_it_is(tmp_path: Path) -> None:
    data = tmp_path / "kafka"
    data.mkdir()
    (data / "meta.properties").write_text("\x00\x01 garbage")
    (data / "events-0").mkdir()
    (data / "events-0" / "00000000000000000000.log").write_bytes(b"records")
    before = snapshot(data)
    with pytest.raises(BrokerError, match="is corrupt.*move it away"):
        KafkaBroker(data, 0, tmp_path / "logs").start()
    assert snapshot(data) == before


def test_maven_central_unreachable_names_the_cache_dir(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # A Maven whose only repository is a closed port on loopback, with an empty local
    # repository: what a first run without network meets.
    home = tmp_path / "home"
    (home / ".m2").mkdir(parents=True)
    (home / ".m2" / "settings.xml").write_text(
        "<settings><mirrors><mirror><id>nowhere</id><mirrorOf>*</mirrorOf>"
        f"<url>http://127.0.0.1:{free_port()}/maven2</url></mirror></mirrors></settings>")
    monkeypatch.setenv("MAVEN_OPTS", f"-Duser.home={home}")
    cache = tmp_path / "cache"
    with pytest.raises(BrokerError) as raised:
        kafka_libs(cache)
    message = str(raised.value)
    assert "could not fetch Kafka" in message and str(cache / "kafka-") in message
    assert "\n" not in message
    assert not any((cache / p).exists() for p in ("libs",))


def test_up_without_java_says_so_in_one_line(tmp_path: Path) -> None:
    line = one_clear_line(run_up(tmp_path, PATH=path_without(tmp_path / "bin", "java")))
    assert "Java 17+ is needed" in line and "default-jre-headless" in line


def test_up_on_a_locked_data_dir_says_so_and_deletes_nothing(tmp_path: Path) -> None:
    running = KafkaBroker(tmp_path / "data" / "kafka", 0, tmp_path / "logs").start()
    try:
        before = snapshot(tmp_path / "data" / "kafka")
        line = one_clear_line(run_up(tmp_path))
        assert "in use by another broker" in line
        after = snapshot(tmp_path / "data" / "kafka")
    finally:
        running.stop()
    assert set(before) <= set(after)


def test_up_on_a_port_in_use_says_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_clear_line(run_up(tmp_path, BUILDSPACE_EMBEDDED_KAFKA_PORT=str(port)))
    assert f"port {port} is in use" in line


def test_cluster_ids_never_look_like_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    # One random id in 64 began with "-", and the storage tool took it for an option.
    dashed, plain = uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=bytes(16))
    assert base64.urlsafe_b64encode(dashed.bytes).startswith(b"-")
    made = iter([dashed, plain])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(made))
    assert new_cluster_id() == base64.urlsafe_b64encode(plain.bytes).rstrip(b"=").decode()
    monkeypatch.undo()
    assert all(len(i) == 22 and not i.startswith("-")
               for i in (new_cluster_id() for _ in range(2000)))

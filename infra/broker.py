"""The embedded Kafka broker: Apache Kafka in KRaft mode, one node that is both broker
and controller, run as a child process of ``buildspace up`` (and of the tests).

Its jars come from Maven Central once, through Maven and ``infra/kafka/pom.xml``, into
``~/.cache/buildspace/kafka-<version>/libs`` (``BUILDSPACE_TOOL_CACHE_DIR`` moves it); after
that nothing is downloaded. The storage is formatted once under the data dir and a
restart keeps everything. The broker's own log goes to ``<logs>/kafka/server.log``;
its configuration files are ``infra.broker_config``'s.

Every fault a user can meet here (no Java, no Maven, no network on the first run, a
port in use, a data dir locked by another broker or corrupt) raises ``BrokerError``
with one line that says what happened and what to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from infra.broker_config import new_cluster_id, write_log_config, write_server_config
from infra.embedded import ChildProcess, base_env, free_port
from infra.kafka_jars import BrokerError, java, kafka_libs

HEAP_MB = 512


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class KafkaBroker:
    """One KRaft node on 127.0.0.1 storing its log under ``data``.

    ``listeners`` adds listeners beyond PLAINTEXT (name → (security protocol, port));
    ``properties`` adds or overrides server properties; ``format_args`` are passed to
    the storage format (``--add-scram`` for SCRAM users), which runs on first start only.
    """

    def __init__(self, data: Path, port: int, logs: Path, *,
                 listeners: Mapping[str, tuple[str, int]] | None = None,
                 properties: Mapping[str, str] | None = None,
                 format_args: Sequence[str] = (), heap_mb: int = HEAP_MB) -> None:
        self.data = data
        self.logs = logs / "kafka"
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.listeners = dict(listeners or {})
        self.properties = dict(properties or {})
        self.format_args = list(format_args)
        self.heap_mb = heap_mb
        self.child: ChildProcess | None = None

    def start(self, timeout: float = 90) -> KafkaBroker:
        java_bin = java()
        libs = kafka_libs()
        self._check_ports()
        self.data.mkdir(parents=True, exist_ok=True)
        self._check_lock()
        self._check_controller_port()
        formatted = (self.data / "meta.properties").exists()
        if formatted:
            self._check_meta()
        config = self._write_config()
        if not formatted:
            self._format(java_bin, libs, config)
        argv = [java_bin, f"-Xmx{self.heap_mb}m", f"-Xms{min(self.heap_mb, 128)}m",
                "-XX:+UseSerialGC", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={write_log_config(self.data, self.logs)}",
                "-cp", f"{libs}/*", "kafka.Kafka", str(config)]
        self.child = ChildProcess("kafka", argv, self.logs / "stdout.log", base_env())
        self._wait_ready(timeout)
        return self

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(timeout=30)

    def kill(self) -> None:
        """SIGKILL, as a crash would (for the durability tests)."""
        if self.child is not None:
            self.child.kill()

    @property
    def controller_port_file(self) -> Path:
        return self.data / "controller.port"

    def _controller_port(self) -> int:
        # Kept across restarts: the controller's address is part of the quorum's state.
        with contextlib.suppress(OSError, ValueError):
            return int(self.controller_port_file.read_text())
        port = free_port()
        self.controller_port_file.write_text(str(port))
        return port

    def _check_ports(self) -> None:
        for port in (self.port, *(p for _, p in self.listeners.values())):
            if not port_free(port):
                raise BrokerError(
                    f"port {port} is in use, so the embedded Kafka broker cannot listen on it: "
                    f"stop what uses it, or set BUILDSPACE_EMBEDDED_KAFKA_PORT to another "
                    f"port (0 picks a free one)")

    def _check_controller_port(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            port = int(self.controller_port_file.read_text())
            if not port_free(port):
                raise BrokerError(
                    f"port {port}, the Kafka controller port of this data dir (kept in "
                    f"{self.controller_port_file}), is in use: stop what uses it")

    def _check_lock(self) -> None:
        lock = self.data / ".lock"
        if not lock.exists():
            return
        with open(lock, "a") as handle:
            try:  # Kafka holds a POSIX lock on it while it runs (FileChannel.tryLock)
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise BrokerError(
                    f"the Kafka data dir {self.data} is in use by another broker: stop that "
                    f"one (another buildspace up?) or choose another --data-dir") from None
            fcntl.lockf(handle, fcntl.LOCK_UN)

    def _check_meta(self) -> None:
        meta = (self.data / "meta.properties").read_text(errors="replace")
        if not re.search(r"^cluster\.id=\S+", meta, re.M) or "node.id=1" not in meta:
            raise BrokerError(
                f"the Kafka data dir {self.data} is corrupt (meta.properties is unreadable): "
                f"move it away to start with an empty log")

    def _write_config(self) -> Path:
        listeners = {"PLAINTEXT": ("PLAINTEXT", self.port), **self.listeners}
        return write_server_config(self.data, self._controller_port(), listeners,
                                   self.properties)

    def _format(self, java_bin: str, libs: Path, config: Path) -> None:
        cluster_id = new_cluster_id()
        done = subprocess.run(
            [java_bin, "-Xmx256m", "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format",
             f"--cluster-id={cluster_id}", "-c", str(config), *self.format_args],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, env=base_env())
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise BrokerError(f"could not format the Kafka data dir {self.data}: {said[0]}")

    def _wait_ready(self, timeout: float) -> None:
        assert self.child is not None
        deadline = time.monotonic() + timeout
        ports = [self.port, *(port for _, port in self.listeners.values())]
        while time.monotonic() < deadline:
            if self.child.proc.poll() is not None:
                raise BrokerError(f"the embedded Kafka broker exited: {self._why()} "
                                  f"(its log: {self.logs / 'server.log'})")
            if all(_answers(port) for port in ports):  # listeners open one after another
                return
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"the embedded Kafka broker did not answer on {self.bootstrap} "
                          f"within {timeout:.0f} s (its log: {self.logs / 'server.log'})")

    def _why(self) -> str:
        text = ""
        for name in ("server.log", "stdout.log"):
            with contextlib.suppress(OSError):
                text += (self.logs / name).read_text(errors="replace")[-20000:]
        if "Failed to acquire lock" in text:
            return f"its data dir {self.data} is in use by another broker"
        errors = [ln for ln in text.splitlines() if " ERROR " in ln or "Exception" in ln]
        return errors[-1][:300] if errors else "see its log"


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False

"""The ports ``buildspace up`` listens on, checked before it starts anything: a port in
use is one line that names it and the setting that moves it.

The embedded PostgreSQL listens on a Unix socket in its data dir only, so it has none.
"""

from __future__ import annotations

from infra.broker import port_free
from infra.embedded import StartupError
from infra.settings import Settings

# Port setting -> (its host setting, what listens there).
ROLE_PORTS = {
    "api_port": ("api_host", "the API"),
    "socketio_port": ("api_host", "the API's Socket.IO"),
    "worker_port": ("worker_host", "the worker's /healthz and /metrics server"),
    "edge_port": ("edge_host", "the edge"),
    "edge_admin_port": ("edge_host", "the edge's /healthz and /metrics server"),
}
# Port setting -> (the setting that points at an external service instead, what
# listens there). Embedded services listen on 127.0.0.1.
EMBEDDED_PORTS = {
    "embedded_s3_port": ("s3_endpoint", "the embedded S3 server"),
    "embedded_kafka_port": ("kafka_bootstrap", "the embedded Kafka broker"),
}


class PortInUse(StartupError):
    """A port ``buildspace up`` needs is taken."""


def role_ports(settings: Settings) -> dict[str, tuple[str, int]]:
    """Port setting -> (host, port) of each role process's listener."""
    return {name: (getattr(settings, host), getattr(settings, name))
            for name, (host, _) in ROLE_PORTS.items()}


def listeners(settings: Settings) -> list[tuple[str, str, int, str]]:
    """(port setting, host, port, what) of each port ``up`` is going to listen on."""
    embedded = [(name, "127.0.0.1", getattr(settings, name), what)
                for name, (external, what) in EMBEDDED_PORTS.items()
                if not getattr(settings, external)]
    return embedded + [(name, getattr(settings, host), getattr(settings, name), what)
                       for name, (host, what) in ROLE_PORTS.items()]


def check_ports(settings: Settings) -> None:
    """Raises ``PortInUse`` for the first port taken (0 is never: a free one is picked)."""
    for name, host, port, what in listeners(settings):
        if port and ":" not in host and not port_free(port, host):  # (IPv6: it finds out)
            raise PortInUse(f"port {port} is in use, so {what} cannot listen on it: stop what "
                            f"uses it, or set BUILDSPACE_{name.upper()} to another port (0 "
                            f"picks a free one)")

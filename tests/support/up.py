"""``buildspace up`` run as a user runs it, to see how it fails: free ports, a data dir
under the test's own, and external services that are never reached unless a test asks
for the embedded ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from infra.embedded import free_port

PROJECT = Path(__file__).resolve().parents[2]
PORTS = ("API_PORT", "SOCKETIO_PORT", "WORKER_PORT", "EDGE_PORT", "EDGE_ADMIN_PORT")


def snapshot(root: Path) -> dict[str, bytes]:
    """Path -> content of every file under ``root``."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def run_up(tmp_path: Path, **env: str | None) -> subprocess.CompletedProcess[str]:
    """``buildspace up`` on ``tmp_path``/data with an external PostgreSQL that is never
    reached (the fault comes first); ``env`` adds variables, or removes those set to
    None."""
    environ = os.environ | {
        "BUILDSPACE_DATA_DIR": str(tmp_path / "data"),
        "BUILDSPACE_EMBEDDED_S3_PORT": "0",
        "BUILDSPACE_EMBEDDED_KAFKA_PORT": "0",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
    } | {f"BUILDSPACE_{name}": str(free_port()) for name in PORTS}
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return subprocess.run([sys.executable, "-m", "infra.compose.cli", "up"], cwd=PROJECT,
                          env=environ, capture_output=True, text=True, timeout=120)


def one_clear_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one ``buildspace: …`` line a failed run printed (and no traceback)."""
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("buildspace: ")]
    assert len(lines) == 1, done.stderr
    return lines[0]


def path_without(folder: Path, *tools: str) -> str:
    """A PATH of one ``folder`` that links every tool on this PATH but ``tools``."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in os.environ["PATH"].split(os.pathsep):
        for tool in Path(entry).glob("*") if Path(entry).is_dir() else ():
            if tool.name not in tools and not os.path.lexists(folder / tool.name):
                (folder / tool.name).symlink_to(tool)
    return str(folder)

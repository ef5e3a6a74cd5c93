"""What a builder killed with SIGKILL leaves (its work directory, empty cgroups) is
removed by the next build, and nothing of a live build is."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from builder import reaper
from tests.builder.support import cgroups_named

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts, cgroups)")

KILLED_BUILDER = """
import sys
from builder.cgroups import BuildCgroup, Limits
from builder.disk import private_mounts
from builder.workspace import Workspace
assert private_mounts()
label = sys.argv[1]
ws = Workspace.create(64000, 64000, disk_mb=32, label=label)
BuildCgroup.create(f"{label}-install-0", Limits(10, 64, 16, 1.0))
print(ws.root, flush=True)
sys.stdin.read()
"""


def test_what_a_killed_builder_left_is_reaped(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(reaper, "STALE_S", 0.0)
    label = f"reaper-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILDER, label], cwd=PROJECT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    root = Path(proc.stdout.readline().strip())
    try:
        assert root.is_dir()
        assert root not in reaper.reap_workspaces(Path(tempfile.gettempdir()))  # live
        assert root.is_dir()
    finally:
        proc.kill()
        proc.wait()
    assert root in reaper.reap_workspaces(Path(tempfile.gettempdir()))
    assert not root.exists() and not Path(f"{root}.lock").exists()
    assert reaper.reap_cgroups(matching=label)  # only ours: others' builds run here too
    assert cgroups_named(label) == []

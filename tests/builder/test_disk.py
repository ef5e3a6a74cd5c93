"""The size-limited work disk: a filesystem of its own, gone with the builder even when
the builder is killed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from builder.disk import mount_limited
from tests.support.waiting import eventually

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


def loop_backing_files() -> list[str]:
    found = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            found.append(backing.read_text().strip())
        except OSError:
            continue
    return found


def test_the_filesystem_has_the_limit_and_goes_when_unmounted(tmp_path: Path):
    (tmp_path / "ws").mkdir()
    disk = mount_limited(tmp_path / "ws", 24)
    try:
        st = os.statvfs(tmp_path / "ws")
        assert 20 <= st.f_blocks * st.f_frsize / (1 << 20) <= 24
        assert os.listdir(tmp_path / "ws") == [] and not disk.full()
        assert not (tmp_path / "ws.img").exists()  # unlinked once mounted
        with pytest.raises(OSError, match="No space left"), \
                open(tmp_path / "ws" / "fill", "wb") as f:
            for _ in range(64):
                f.write(b"\0" * (1 << 20))
                f.flush()
        assert disk.full()
    finally:
        disk.unmount()
    assert not os.path.ismount(tmp_path / "ws")
    assert not [f for f in loop_backing_files() if str(tmp_path) in f]


KEEP_A_DISK = """
import pathlib, sys, tempfile
from builder.disk import mount_limited, private_mounts
assert private_mounts()
where = pathlib.Path(tempfile.mkdtemp(prefix="buildspace-disk-test-"))
mount_limited(where, 32)
print(where, flush=True)
sys.stdin.read()
"""


def test_a_builder_killed_with_sigkill_leaves_no_mount_and_no_loop_device():
    proc = subprocess.Popen([sys.executable, "-c", KEEP_A_DISK], cwd=PROJECT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    where = proc.stdout.readline().strip()
    try:
        assert where and where not in Path("/proc/self/mounts").read_text()  # private
        assert [f for f in loop_backing_files() if where in f]
    finally:
        proc.kill()
        proc.wait()
    # the kernel releases the device after the namespace is gone
    eventually(lambda: not [f for f in loop_backing_files() if where in f], 10,
               what="the loop device gone with the builder", interval=0.05)
    Path(where).rmdir()  # an empty directory is all that is left

"""The per-build cgroup: the real v1 hierarchies here, and v2's files by layout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.cgroups import ROOT, BuildCgroup, CgroupUnavailable, Limits

LIMITS = Limits(timeout_s=10, memory_mb=128, pids=32, cpus=0.5)


@pytest.mark.skipif(not (ROOT / "memory").is_dir() or os.geteuid() != 0,
                    reason="needs the cgroup v1 hierarchies, as root")
def test_v1_limits_are_written_and_the_group_removed():
    group = BuildCgroup.create("test-v1", LIMITS)
    try:
        assert group.version == 1
        memory, pids, cpu = group.dirs["memory"], group.dirs["pids"], group.dirs["cpu"]
        assert (memory / "memory.limit_in_bytes").read_text().strip() == str(128 << 20)
        assert (pids / "pids.max").read_text().strip() == "32"
        assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert group.pids() == set() and not group.out_of_memory()
    finally:
        group.remove()
    assert not any(d.exists() for d in group.dirs.values())


def test_v2_limits_are_written_to_one_group(tmp_path: Path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    group = BuildCgroup.create("test-v2", LIMITS, root=tmp_path)
    d = tmp_path / "buildspace" / "test-v2"
    assert group.version == 2 and group.dirs == {"unified": d}
    assert (d / "memory.max").read_text() == str(128 << 20)
    assert (d / "pids.max").read_text() == "32"
    assert (d / "cpu.max").read_text() == "50000 100000"
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert "cgroup.procs" in group.join_script()


def test_no_writable_hierarchy_means_no_limits_and_nothing_left(tmp_path: Path):
    (tmp_path / "memory").write_text("not a directory")
    with pytest.raises(CgroupUnavailable):
        BuildCgroup.create("test-none", LIMITS, root=tmp_path)
    assert not (tmp_path / "pids" / "buildspace" / "test-none").exists()

"""What /proc says about processes and their TCP sockets (Linux): a process's children,
which processes listen on a port, and which process holds the server side of a
connection."""

from __future__ import annotations

import contextlib
from pathlib import Path

PROC = Path("/proc")
LISTEN, ESTABLISHED = "0A", "01"


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped, is not)."""
    with contextlib.suppress(OSError):
        stat = (PROC / str(pid) / "stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return False


def children(pid: int) -> dict[int, str]:
    """Live child pid -> command line."""
    found = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found[int(entry.name)] = cmdline(int(entry.name))
    return found


def _tcp_sockets() -> list[tuple[int, int, str, int]]:
    """(local port, remote port, state, inode) of every TCP socket in this namespace."""
    sockets = []
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (PROC / "net" / table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote = fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1]
                sockets.append((int(local, 16), int(remote, 16), fields[3], int(fields[9])))
    return sockets


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in (PROC / str(pid) / "fd").iterdir():
            with contextlib.suppress(OSError):
                target = str(fd.readlink())
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes


def listening(pids: list[int], port: int) -> set[int]:
    """Those of ``pids`` that hold a socket listening on ``port``."""
    inodes = {inode for local, _, state, inode in _tcp_sockets()
              if local == port and state == LISTEN}
    return {pid for pid in pids if socket_inodes(pid) & inodes}


def serving(pids: list[int], port: int, client_ports: set[int]) -> set[int]:
    """Those of ``pids`` that hold the server side of a connection to ``port`` from one
    of ``client_ports``."""
    inodes = {inode for local, remote, state, inode in _tcp_sockets()
              if local == port and remote in client_ports and state == ESTABLISHED}
    return {pid for pid in pids if socket_inodes(pid) & inodes}

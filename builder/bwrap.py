"""The command line that starts untrusted code: ``setpriv`` drops to the sandbox uid
with no capabilities, then bubblewrap gives it new namespaces, a read-only /usr, the
workspace's checkout, HOME and /tmp, the binds a build asks for (the dependency cache,
a Node.js outside /usr), and nothing else of the host."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from builder.workspace import Workspace

SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
LAUNCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Absolute, so the launcher never looks anything up in the sandbox's PATH.
BWRAP = shutil.which("bwrap", path=LAUNCH_PATH) or "/usr/bin/bwrap"
SETPRIV = shutil.which("setpriv", path=LAUNCH_PATH) or "/usr/bin/setpriv"
HOME = "/home/builder"
TOP_LEVEL_LINKS = ("bin", "lib", "lib32", "lib64", "libx32", "sbin")
ETC_FILES = ("passwd", "group", "hosts", "nsswitch.conf", "resolv.conf")


def sandbox_env() -> dict[str, str]:
    """The base environment of untrusted code: nothing is inherited."""
    return {
        "PATH": SANDBOX_PATH, "HOME": HOME, "USER": "builder", "LANG": "C.UTF-8",
        "CI": "1", "TMPDIR": "/tmp", "NODE_EXTRA_CA_CERTS": "/etc/ssl/certs/ca-certificates.crt",
        "npm_config_cache": f"{HOME}/.npm", "npm_config_update_notifier": "false",
        "npm_config_fund": "false", "npm_config_audit": "false",
    }


@dataclass(frozen=True)
class Setup:
    """What one sandboxed command gets beyond the system and the workspace."""

    env: Mapping[str, str] = field(default_factory=sandbox_env)  # the whole environment
    binds: tuple[tuple[Path, str], ...] = ()  # writable: (host path, path inside)
    ro_binds: tuple[tuple[Path, str], ...] = ()


def _system_mounts() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in TOP_LEVEL_LINKS:
        path = Path("/", name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args + ["--ro-bind", "/etc/ssl", "/etc/ssl"]


def _binds(ws: Workspace, setup: Setup) -> list[str]:
    args = []
    for name in ETC_FILES:
        args += ["--ro-bind", str(ws.etc / name), f"/etc/{name}"]
    args += ["--bind", str(ws.src), "/workspace", "--bind", str(ws.home), HOME,
             "--bind", str(ws.tmp), "/tmp"]
    for host, inside in setup.binds:
        args += ["--bind", str(host), inside]
    for host, inside in setup.ro_binds:
        args += ["--ro-bind", str(host), inside]
    return args


def env_args(env: Mapping[str, str]) -> bytes:
    """``--setenv KEY VALUE`` for every variable, NUL-separated, for bwrap's ``--args``."""
    words = [word for key, value in env.items() for word in ("--setenv", key, value)]
    return b"".join(word.encode() + b"\0" for word in words)


def bwrap_args(ws: Workspace, cwd: str, command: str, setup: Setup, *, info_fd: int,
               env_fd: int, block_fd: int | None = None) -> list[str]:
    """The environment comes from ``env_fd`` (see ``env_args``), not this command line,
    which anyone on the host can read."""
    args = [BWRAP, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--clearenv", "--args", str(env_fd), "--hostname", "builder", *_system_mounts(),
            "--proc", "/proc", "--dev", "/dev", *_binds(ws, setup),
            "--chdir", f"/workspace/{cwd}".rstrip("/"), "--info-fd", str(info_fd)]
    if block_fd is not None:
        args += ["--block-fd", str(block_fd)]
    return [*args, "/bin/sh", "-c", command]


def setpriv_args(uid: int, gid: int) -> list[str]:
    """Drop to the sandbox uid with no capabilities (only root has one to drop)."""
    if os.geteuid() != 0:
        return []
    return [SETPRIV, f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]

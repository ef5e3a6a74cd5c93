"""Hardened shallow clone of the repository a build is asked for.

Git runs with an empty environment (no user or system config, no hooks, no templates,
no prompts) and only the allowed transport protocols, so a hostile repository or URL
cannot run code or read local files on the builder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from schemas.git_urls import check_git_url_shape

SHA_RE = re.compile(r"[0-9a-f]{40}")
HARDENING = ("-c", "protocol.file.allow=never", "-c", "core.hooksPath=/dev/null")
CREDENTIALS_RE = re.compile(r"(\w+://)[^/@\s]*@")


@dataclass(frozen=True)
class Cloned:
    sha: str  # the commit
    tree: str  # its tree: the same for two commits with exactly the same files


class CloneError(Exception):
    """The repository could not be cloned; the message is safe to show to the user."""


def check_ref(ref: str) -> str:
    """Accept a branch, tag or commit sha that cannot be read as an option or a path trick."""
    bad = not ref or ref.startswith("-") or ".." in ref or ref.endswith((".lock", "/", "."))
    if bad or any(ch.isspace() or ord(ch) < 32 or ch in "~^:?*[\\" for ch in ref):
        raise CloneError(f"invalid git ref {ref!r}")
    return ref


def git_env(home: Path, protocols: Sequence[str]) -> dict[str, str]:
    """Nothing from the builder's own environment except PATH."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_ALLOW_PROTOCOL": ":".join(protocols),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ASKPASS": "/bin/false",
        "LC_ALL": "C",
    }


def safe_message(stderr: bytes) -> str:
    """The last meaningful line git printed, with any URL credentials removed."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines()]
    lines = [line for line in lines if line and not line.startswith(("Cloning into", "hint:"))]
    last = lines[-1] if lines else "no output"
    return CREDENTIALS_RE.sub(r"\1", last)[:300]


async def _git(args: Sequence[str], env: dict[str, str], timeout: float) -> bytes:
    """Run one git command in its own process group; kill the group on timeout."""
    proc = await asyncio.create_subprocess_exec(
        "git", *HARDENING, *args, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError):
        _kill_group(proc.pid)
        await proc.wait()
        raise
    if proc.returncode != 0:
        command = args[2] if args[0] == "-C" else args[0]
        raise CloneError(f"git {command} failed: {safe_message(err)}")
    return out


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


async def _clone_branch(url: str, ref: str, dest: Path, env: dict[str, str], t: float) -> None:
    await _git(["clone", "--template=", "--quiet", "--no-tags", "--depth", "1",
                "--branch", ref, "--", url, str(dest)], env, t)


async def _clone_sha(url: str, sha: str, dest: Path, env: dict[str, str], t: float) -> None:
    """A commit sha cannot be cloned with --branch: init, fetch that one commit, check out."""
    await _git(["init", "--quiet", "--template=", str(dest)], env, t)
    await _git(["-C", str(dest), "fetch", "--quiet", "--no-tags", "--depth", "1",
                "--", url, sha], env, t)
    await _git(["-C", str(dest), "checkout", "--quiet", "--detach", "FETCH_HEAD"], env, t)


async def clone(url: str, ref: str, dest: Path, *, protocols: Sequence[str] = ("http", "https"),
                timeout: float = 300.0) -> Cloned:
    """Shallow-clone ``url`` at ``ref`` into ``dest`` (which must not exist); return the
    commit and its tree. The ``.git`` directory is removed: builds get plain files, never the
    remote URL or git metadata."""
    try:
        check_git_url_shape(url)
    except ValueError as exc:
        raise CloneError(f"invalid git URL: {exc}") from None
    check_ref(ref)
    home = Path(tempfile.mkdtemp(prefix="buildspace-git-home-"))
    env = git_env(home, protocols)
    try:
        fetch = _clone_sha if SHA_RE.fullmatch(ref) else _clone_branch
        await fetch(url, ref, dest, env, timeout)
        shas = await _git(["-C", str(dest), "rev-parse", "HEAD", "HEAD^{tree}"], env, timeout)
    except TimeoutError:
        raise CloneError(f"git clone timed out after {timeout:g} s") from None
    finally:
        shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(dest / ".git")
    sha, tree = shas.decode().split()
    return Cloned(sha, tree)

"""Network for the install step without the host's loopback: slirp4netns attached to
the sandbox's own network namespace.

The sandbox sees a private 10.0.2.0/24 network with DNS at 10.0.2.3; it cannot reach
services listening on the builder's 127.0.0.1 (``--disable-host-loopback``), and, with
``builder.netfilter``, nor the host's other addresses or the private networks.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from builder.netfilter import NetFilter

SLIRP_DNS = "10.0.2.3"
RESOLV_CONF = f"nameserver {SLIRP_DNS}\n"


class NetworkError(Exception):
    """The sandbox's network could not be set up."""


async def read_pipe(fd: int, size: int = -1) -> bytes:
    """Read ``size`` bytes (-1: to EOF) from ``fd``, a pipe we own, without blocking the
    event loop; fewer at EOF. Closes ``fd``."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0))
    try:
        return await (reader.read() if size < 0 else reader.readexactly(size))
    except asyncio.IncompleteReadError as exc:
        return exc.partial
    finally:
        transport.close()


async def loopback_configured(pid: int, timeout: float = 10.0) -> bool:
    """Wait until bwrap has configured the namespace's loopback (127.0.0.1 is routed).

    bwrap reports the sandbox pid before it sets up ``lo`` itself; configuring the
    namespace from outside at the same moment makes its setup fail now and then."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        try:
            if "127.0.0.1" in Path(f"/proc/{pid}/net/fib_trie").read_text():
                return True
        except OSError:  # the sandbox already exited
            return False
        await asyncio.sleep(0.002)  # polling the kernel's state, not synchronising tasks
    return False


class Slirp:
    """One slirp4netns process serving the network namespace of ``pid``."""

    def __init__(self, proc: asyncio.subprocess.Process, exit_w: int,
                 netfilter: NetFilter | None) -> None:
        self._proc = proc
        self._exit_w = exit_w
        self._netfilter = netfilter

    @classmethod
    async def attach(cls, pid: int, netfilter: NetFilter | None = None,
                     timeout: float = 10.0) -> Slirp:
        """Serve the network namespace of ``pid``; inside ``netfilter``'s group (which
        ``close`` removes) when there is one."""
        ready_r, ready_w = os.pipe()
        exit_r, exit_w = os.pipe()
        argv = ["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
                "--enable-sandbox", f"--ready-fd={ready_w}", f"--exit-fd={exit_r}",
                "--netns-type=path", str(Path(f"/proc/{pid}/ns/net")), "tap0"]
        try:
            proc = await asyncio.create_subprocess_exec(
                *(netfilter.wrap(argv) if netfilter else argv), pass_fds=(ready_w, exit_r),
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        except BaseException:
            os.close(ready_r)
            os.close(exit_w)
            if netfilter is not None:
                netfilter.remove()
            raise
        finally:
            os.close(ready_w)
            os.close(exit_r)
        slirp = cls(proc, exit_w, netfilter)
        try:
            ready = await asyncio.wait_for(read_pipe(ready_r, 1), timeout)
        except TimeoutError:
            ready = b""
        except BaseException:  # the build was canceled meanwhile
            await slirp.close()
            raise
        if ready != b"1":
            await slirp.close()
            raise NetworkError("could not set up the network (slirp4netns did not start)")
        return slirp

    async def close(self, timeout: float = 5.0) -> None:
        """Closing the exit fd tells slirp4netns to stop; kill it if it does not."""
        if self._exit_w >= 0:
            os.close(self._exit_w)
            self._exit_w = -1
        try:
            await asyncio.wait_for(self._proc.wait(), timeout)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
        if self._netfilter is not None:
            self._netfilter.remove()

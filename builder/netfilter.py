"""Keep the sandbox's network away from the host and the private networks around it.

slirp4netns opens the sandbox's connections as ordinary sockets of the host, so
``--disable-host-loopback`` alone still lets a build reach the host's other addresses
(any service bound to 0.0.0.0), the cloud metadata endpoints (169.254.169.254, ECS's
169.254.170.2) and the private network the builder sits in (Kafka, PostgreSQL). So
slirp4netns runs in a cgroup v2 group of its own with eBPF ``cgroup/connect`` and
``sendmsg`` programs attached: a connection to a loopback, link-local, private,
multicast or host-local address fails with EPERM. The host's DNS servers stay
reachable on port 53 (slirp forwards the sandbox's DNS to them); the public internet
(the package registries) is unaffected.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import platform
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

from builder.bpf import Asm

V2_ROOTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))
PARENT = "buildspace"
DENIED_V4 = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
             "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/3")
DNS_PORT = 53
BPF_PROG_LOAD, BPF_PROG_ATTACH = 5, 8
PROG_TYPE_CGROUP_SOCK_ADDR = 18
INET4_CONNECT, INET6_CONNECT, UDP4_SENDMSG, UDP6_SENDMSG = 10, 11, 14, 15
NR_BPF = {"x86_64": 321, "aarch64": 280}
# struct bpf_sock_addr
USER_IP4, USER_IP6, USER_PORT = 4, 8, 24


class FilterUnavailable(Exception):
    """The filter cannot be set up here (no cgroup v2, no eBPF); the message says why."""


def host_addresses(fib_trie: str) -> list[ipaddress.IPv4Address]:
    """The host's own IPv4 addresses (``/32 host LOCAL`` in /proc/net/fib_trie)."""
    found, last = set(), None
    for line in fib_trie.splitlines():
        text = line.strip()
        if text.startswith(("|--", "+--")):
            last = text[3:].split()[0]
        elif text == "/32 host LOCAL" and last is not None:
            found.add(ipaddress.IPv4Address(last))
    return sorted(found)


def nameservers(resolv_conf: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    found = []
    for line in resolv_conf.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            with contextlib.suppress(ValueError):
                found.append(ipaddress.ip_address(parts[1].split("%")[0]))
    return found


def _word(packed: bytes) -> int:
    """Four bytes in network order as the verifier's 32-bit load sees them."""
    return struct.unpack("<i", packed)[0]


def _port(port: int) -> int:
    return _word(struct.pack("!H", port) + b"\0\0")


def program_v4(denied: list[ipaddress.IPv4Network], dns: list[ipaddress.IPv4Address]
               ) -> bytes:
    """Allow DNS to ``dns``; refuse every destination in ``denied``; allow the rest."""
    asm = Asm()
    asm.mov64(6, 1).load32(2, 6, USER_IP4).load32(3, 6, USER_PORT)
    for i, server in enumerate(dns):
        asm.jne(2, _word(server.packed), f"ns{i}").jeq(3, _port(DNS_PORT), "allow")
        asm.label(f"ns{i}")
    for net in denied:
        asm.mov32(4, 2).and32(4, _word(net.netmask.packed))
        asm.jeq(4, _word(net.network_address.packed), "deny")
    asm.label("allow").ret(1).label("deny").ret(0)
    return asm.code()


def program_v6(dns: list[ipaddress.IPv6Address]) -> bytes:
    """The sandbox has no IPv6: only slirp's DNS forwarding may use it."""
    asm = Asm()
    if not dns:
        return asm.ret(0).code()
    asm.mov64(6, 1).load32(3, 6, USER_PORT)
    for i, server in enumerate(dns):
        for w in range(4):
            asm.load32(2, 6, USER_IP6 + 4 * w).jne(2, _word(server.packed[4 * w:4 * w + 4]),
                                                     f"ns{i}")
        asm.jeq(3, _port(DNS_PORT), "allow").label(f"ns{i}")
    asm.ret(0).label("allow").ret(1)
    return asm.code()


def _bpf(command: int, attr: bytes) -> int:
    number = NR_BPF.get(platform.machine())
    if number is None:
        raise FilterUnavailable(f"eBPF calls are not known on {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(attr, 128)
    result = libc.syscall(number, command, buffer, 128)
    if result < 0:
        errno = ctypes.get_errno()
        raise FilterUnavailable(f"bpf: {os.strerror(errno)}")
    return int(result)


def _load(code: bytes, attach_type: int) -> int:
    insns, license_ = ctypes.create_string_buffer(code), ctypes.create_string_buffer(b"GPL")
    attr = struct.pack("<IIQQIIQII16sII", PROG_TYPE_CGROUP_SOCK_ADDR, len(code) // 8,
                       ctypes.addressof(insns), ctypes.addressof(license_), 0, 0, 0, 0, 0,
                       b"buildspace_net", 0, attach_type)
    return _bpf(BPF_PROG_LOAD, attr)


def _attach(group: Path, code: bytes, attach_type: int) -> None:
    prog = _load(code, attach_type)
    try:
        target = os.open(group, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _bpf(BPF_PROG_ATTACH, struct.pack("<IIII", target, prog, attach_type, 0))
        finally:
            os.close(target)
    finally:
        os.close(prog)  # the attachment keeps the program alive


def _v2_root() -> Path:
    for root in V2_ROOTS:
        if (root / "cgroup.procs").exists() and (root / "cgroup.controllers").exists():
            return root
    raise FilterUnavailable("no cgroup v2 hierarchy")


def _denied() -> tuple[list[ipaddress.IPv4Network], list[ipaddress.IPv4Address],
                       list[ipaddress.IPv6Address]]:
    hosts = host_addresses(Path("/proc/net/fib_trie").read_text())
    denied = [ipaddress.IPv4Network(n) for n in DENIED_V4]
    denied += [ipaddress.IPv4Network(a) for a in hosts if not any(a in n for n in denied)]
    try:
        servers = nameservers(Path("/etc/resolv.conf").read_text())
    except OSError:
        servers = []
    return (denied, [s for s in servers if isinstance(s, ipaddress.IPv4Address)],
            [s for s in servers if isinstance(s, ipaddress.IPv6Address)])


@dataclass(frozen=True)
class NetFilter:
    """A cgroup v2 group whose processes cannot reach the host or private networks."""

    group: Path

    @classmethod
    def create(cls, label: str = "sandbox") -> NetFilter:
        """A new group, named after ``label`` (a safe cgroup name)."""
        if os.geteuid() != 0:
            raise FilterUnavailable("not running as root")
        group = _v2_root() / PARENT / f"net-{label}-{uuid.uuid4().hex[:12]}"
        try:
            group.mkdir(parents=True)
            denied, dns4, dns6 = _denied()
            for attach in (INET4_CONNECT, UDP4_SENDMSG):
                _attach(group, program_v4(denied, dns4), attach)
            for attach in (INET6_CONNECT, UDP6_SENDMSG):
                _attach(group, program_v6(dns6), attach)
        except (OSError, FilterUnavailable) as exc:
            with contextlib.suppress(OSError):
                group.rmdir()
            raise FilterUnavailable(str(exc)) from None
        return cls(group)

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the group (it joins before it execs)."""
        procs = str(self.group / "cgroup.procs")
        return ["/bin/sh", "-c", 'echo $$ > "$0" || exit 125; exec "$@"', procs, *argv]

    def remove(self) -> None:
        """Once its processes have exited; the programs go with the group."""
        with contextlib.suppress(OSError):
            self.group.rmdir()

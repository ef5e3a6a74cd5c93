"""The install network's filter: slirp4netns's sockets cannot reach the host's own
addresses, loopback, link-local (cloud metadata) or private networks."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from builder.netfilter import NetFilter, host_addresses, nameservers, program_v4, program_v6

FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
     +-- 192.0.2.0/24 2 0 2
        +-- 192.0.2.0/30 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
        |-- 192.0.2.255
           /32 link BROADCAST
"""


def test_the_hosts_own_addresses_are_read_from_fib_trie():
    assert [str(a) for a in host_addresses(FIB_TRIE)] == ["127.0.0.1", "192.0.2.2"]


def test_nameservers_are_read_from_resolv_conf():
    text = "# x\nnameserver 10.255.255.53\nnameserver fe80::1%eth0\nnameserver bogus\nsearch a\n"
    assert [str(a) for a in nameservers(text)] == ["10.255.255.53", "fe80::1"]


def test_programs_are_whole_instructions():
    v4 = program_v4([ipaddress.IPv4Network("10.0.0.0/8")], [ipaddress.IPv4Address("10.0.0.2")])
    assert len(v4) % 8 == 0 and len(v4) // 8 == 3 + 2 + 3 + 4
    assert len(program_v6([])) == 16  # refuse everything: r0 = 0; exit


PROBE = """
import socket, sys
for host, port in [(h, int(p)) for h, p in (a.split(":") for a in sys.argv[1:])]:
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect((host, port))
        print(host, "CONNECTED")
    except OSError as exc:
        print(host, exc.errno)
    finally:
        s.close()
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (cgroup v2 and eBPF)")
def test_the_host_and_private_networks_are_refused(tmp_path: Path):
    netfilter = NetFilter.create()
    local = [str(a) for a in host_addresses(Path("/proc/net/fib_trie").read_text())]
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        targets = [f"{h}:{port}" for h in local] + ["169.254.169.254:80", "10.1.2.3:5432",
                                                   "172.17.0.1:9092", "192.168.1.1:80"]
        try:
            done = subprocess.run(netfilter.wrap([sys.executable, "-c", PROBE, *targets]),
                                  capture_output=True, text=True, timeout=30)
        finally:
            netfilter.remove()
        with pytest.raises(BlockingIOError):
            listener.accept()
    results = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert done.returncode == 0, done.stderr
    assert len(results) == len(targets) and set(results.values()) == {str(1)}  # EPERM
    assert not netfilter.group.exists()

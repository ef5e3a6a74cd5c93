"""Load-test helpers for the benchmarks: wrk with a JSON report, nginx from a config in
a temporary directory, and waiting for a server (both tools are installed with apt-get
when missing)."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infra.embedded import free_port

WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "errors": %d, "non_2xx": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
"""
NGINX_CONF = """
{user}worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ text/html html; text/javascript js; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {site};
        index index.html;
    }}
}}
"""


def ensure_tools() -> None:
    missing = [tool for tool, binary in (("wrk", "wrk"), ("nginx", "nginx"))
               if shutil.which(binary) is None and not Path(f"/usr/sbin/{binary}").exists()]
    if missing:
        print(f"installing {' '.join(missing)} with apt-get", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True,
                       stdout=subprocess.DEVNULL)


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def wrk(url: str, host: str, script: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
               "--timeout", "5s", "-H", f"Host: {host}", "-s", str(script), url]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    report = next(line for line in out.splitlines() if line.startswith("WRK "))
    result: dict[str, Any] = json.loads(report[4:])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def get(port: int, host: str, path: str = "/") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)  # poll interval
    raise SystemExit(f"{what} did not come up within {timeout} s")


@contextmanager
def nginx_process(tmp: Path, site: Path, host: str, workers: int | str = "auto"
                  ) -> Iterator[int]:
    """nginx serving ``site`` on a free port with ``workers`` worker processes."""
    port = free_port()
    conf = tmp / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the temp dir
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=port, site=site,
                                      workers=workers))
    proc = subprocess.Popen([nginx_binary(), "-c", str(conf), "-p", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: get(port, host)[0] == 200, 15, "nginx")
        yield port
    finally:
        proc.terminate()
        proc.wait(15)

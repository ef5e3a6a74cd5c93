"""The ``buildspace`` command.

    buildspace up        the embedded stack and every role in one process
    buildspace api       commands + queries on :9000 (external services from settings)
    buildspace worker    the Faust agents
    buildspace edge      the subdomain host on :8000
    buildspace deploy    deploy a local directory (``buildspace deploy --help``)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from infra.bootstrap import Roles
from infra.settings import Settings
from infra.stack import EmbeddedStack

log = logging.getLogger("buildspace")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="buildspace", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", choices=["up", "api", "worker", "edge"])
    parser.add_argument("--data-dir", type=Path, help="state directory (default .buildspace)")
    parser.add_argument("--api-port", type=int)
    parser.add_argument("--edge-port", type=int)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {"data_dir": args.data_dir, "api_port": args.api_port,
                 "edge_port": args.edge_port}
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


async def run_roles(settings: Settings, roles: list[str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = Roles(settings)
    try:
        await running.open(clickhouse=roles != ["edge"])
        for role in ("worker", "api", "edge"):
            if role in roles:
                await getattr(running, f"start_{role}")()
        announce(settings, roles)
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({stopping, *running.watched},
                                     return_when=asyncio.FIRST_COMPLETED)
        print("Stopping…", flush=True)
        failed = [t for t in done if t is not stopping]
        for task in failed:
            log.error("role %s stopped: %r", task.get_name(), task.exception()
                      if not task.cancelled() else "cancelled")
        if failed:
            raise SystemExit(1)
    finally:
        await running.close()


def announce(settings: Settings, roles: list[str]) -> None:
    if "api" in roles:
        print(f"API   http://{settings.api_host}:{settings.api_port}  "
              f"(OpenAPI: http://{settings.api_host}:{settings.api_port}/docs)", flush=True)
        print(f"Logs  Socket.IO on http://{settings.api_host}:{settings.socketio_port}",
              flush=True)
    if "edge" in roles:
        print(f"Edge  {settings.site_url('<project>')}", flush=True)
    print("Buildspace is up. Ctrl-C stops it.", flush=True)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["deploy"]:
        from infra.deploy_cli import main as deploy

        raise SystemExit(deploy(argv[1:]))
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_from(args)
    if args.role != "up":
        asyncio.run(run_roles(settings, [args.role]))
        return
    stack = EmbeddedStack(settings)
    resolved = stack.start()
    try:
        asyncio.run(run_roles(resolved, ["api", "worker", "edge"]))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()

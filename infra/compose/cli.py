"""The ``buildspace`` command.

    buildspace up          the embedded stack, then one supervised process per role
    buildspace api         commands + queries on :9000 (external services from settings)
    buildspace worker      the Faust agents
    buildspace api worker  both in one process (what ``up`` runs when ClickHouse is chdb)
    buildspace edge        the subdomain host on :8000 (a process of its own)
    buildspace deploy      deploy a local directory (``buildspace deploy --help``)
    buildspace replay      rebuild the read models from the events topic (instance owner)
    buildspace login | logout | whoami | ls | inspect | logs | tokens | redeploy | cancel
               | promote | rollback | link | open | domains | teams
                           talk to a running platform's API (``buildspace login --help``)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import uvloop

from infra.children import READY_FD, notify_ready
from infra.compose.bootstrap import Roles
from infra.embedded import StartupError
from infra.settings import Settings
from infra.stack import EmbeddedStack
from infra.supervisor import Supervisor

log = logging.getLogger("buildspace")
ROLES = ("api", "worker", "edge")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="buildspace", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("roles", nargs="+", metavar="role", choices=["up", *ROLES],
                        help="up, or the roles this process runs: api, worker, edge")
    parser.add_argument("--data-dir", type=Path, help="state directory (default .buildspace)")
    parser.add_argument("--api-port", type=int)
    parser.add_argument("--edge-port", type=int)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    roles = list(dict.fromkeys(args.roles))
    if "up" in roles and len(roles) > 1:
        parser.error("up runs every role: name no other")
    if "edge" in roles and len(roles) > 1:
        parser.error("the edge runs in a process of its own")
    args.roles = roles
    return args


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
        await running.start(roles)
        ready(settings, roles)
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({stopping, *running.watched},
                                     return_when=asyncio.FIRST_COMPLETED)
        failed = [t for t in done if t is not stopping]
        for task in failed:
            log.error("role %s stopped: %r", task.get_name(), task.exception()
                      if not task.cancelled() else "cancelled")
        if failed:
            raise SystemExit(1)
    finally:
        await running.close()


def ready(settings: Settings, roles: list[str]) -> None:
    """Under ``up``, tell the supervisor; on its own, tell the user."""
    if READY_FD in os.environ:
        notify_ready()
        return
    if "api" in roles:
        print(f"API   http://{settings.api_host}:{settings.api_port}", flush=True)
    if "edge" in roles:
        print(f"Edge  {settings.site_url('<project>')}", flush=True)
    print(f"Buildspace {' + '.join(roles)} is up. Ctrl-C stops it.", flush=True)


def announce(settings: Settings, edges: int) -> None:
    api = f"http://{settings.api_host}:{settings.api_port}"
    print(f"API   {api}  (OpenAPI: {api}/docs)", flush=True)
    print(f"Logs  Socket.IO on http://{settings.api_host}:{settings.socketio_port}",
          flush=True)
    print(f"Edge  {settings.site_url('<project>')}  ({edges} processes)", flush=True)
    print("Buildspace is up. Ctrl-C stops it.", flush=True)


def run_process(settings: Settings, roles: list[str]) -> None:
    """The roles in this process; the edge on uvloop."""
    factory = uvloop.new_event_loop if roles == ["edge"] else None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(run_roles(settings, roles))


def up(settings: Settings, verbose: bool) -> None:
    """The embedded services, then the role processes, until Ctrl-C."""
    stack = EmbeddedStack(settings)
    try:
        resolved = stack.start()
        Supervisor(resolved, stack.broker, verbose).run(announce)
    except StartupError as exc:  # one line that says what happened and what to do
        raise SystemExit(f"buildspace: {exc}") from None
    except KeyboardInterrupt:  # Ctrl-C while the services started
        print("Stopping…", flush=True)
    finally:
        stack.stop()


CONSOLE = {"deploy", "login", "logout", "whoami", "ls", "inspect", "logs", "tokens", "redeploy",
           "cancel", "promote", "rollback", "link", "open", "domains", "teams", "env",
           "dead-letters", "replay", "--install-completion", "--show-completion"}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # The shell's completion script calls the bare command with this set.
    if argv[:1] and argv[0] in CONSOLE or "_BUILDSPACE_COMPLETE" in os.environ:
        from infra.console import main as console

        console(argv)
    args = parse_args(argv)
    label = "up" if args.roles == ["up"] else "+".join(args.roles)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format=f"%(asctime)s %(levelname)s [{label} %(process)d] "
                               "%(name)s: %(message)s")
    settings = settings_from(args)
    if args.roles == ["up"]:
        up(settings, args.verbose)
    else:
        run_process(settings, args.roles)


if __name__ == "__main__":
    main()

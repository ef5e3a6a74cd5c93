"""``buildspace deploy PATH``: deploy a local directory without git.

    buildspace deploy dist/ --name my-site            # served as it is, production
    buildspace deploy . --project <id> --build        # built on the platform
    buildspace deploy site/ --name my-site --preview  # only its own URL

Only the files the platform does not have yet are uploaded (a progress bar on stderr);
an unchanged directory uploads nothing. The last line printed is the URL. Exit codes:
0 READY (or accepted, with ``--no-wait``), 1 FAILED, CANCELED or still building at the
timeout, 2 a usage or connection problem.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from infra import credentials
from infra.deploy_client import Api, Progress, human_size
from infra.deploy_files import DeployError, hash_files, walk

DEFAULT_API = "http://127.0.0.1:9000"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="buildspace deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, nargs="?", default=Path("."),
                        help="the directory to deploy (default: the current one)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--project", metavar="ID", help="the project's id")
    which.add_argument("--name", help="the project's name; created when there is none "
                                      "(default: the directory's name)")
    parser.add_argument("--build", action="store_true",
                        help="build the files on the platform (package.json scripts)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--prod", dest="target", action="store_const", const="production",
                        help="a production deployment (the default)")
    target.add_argument("--preview", dest="target", action="store_const", const="preview",
                        help="a preview: served only at its own URL")
    parser.add_argument("--api", default=os.environ.get("BUILDSPACE_API_URL", DEFAULT_API),
                        help=f"the API's URL (default $BUILDSPACE_API_URL or {DEFAULT_API})")
    parser.add_argument("--token", default=os.environ.get("BUILDSPACE_TOKEN"),
                        help="a token (bs_…) to sign in with (default $BUILDSPACE_TOKEN)")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for READY")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds to wait for READY (default 1800)")
    args = parser.parse_args(argv)
    args.target = args.target or "production"
    return args


def say(text: str) -> None:
    print(text, flush=True)


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def project_of(api: Api, args: argparse.Namespace) -> dict[str, Any]:
    if args.project:
        return api.project(args.project)
    return api.project_named(args.name or args.path.resolve().name,
                             credentials.load().get("team_id"))


def deploy(api: Api, args: argparse.Namespace) -> int:
    files = hash_files(walk(args.path))
    if not files:
        raise DeployError(f"{args.path} has no files to deploy")
    project = project_of(api, args)
    say(f"Project {project['name']} ({project['id']})")
    upload = api.create_upload(project["id"], files)
    missing, sizes = upload["missing"], {f.sha256: f.size for f in files}
    say(f"{len(files)} files ({human_size(upload['total_bytes'])}): uploading "
        f"{len(missing)}, {upload['present']} already stored")
    if missing:
        progress = Progress(sum(sizes[m["sha256"]] for m in missing), len(missing))
        try:
            api.upload_missing(missing, files, progress)
        finally:
            progress.close()
    say(f"Uploaded {len(missing)} blobs")
    accepted = api.deploy(project["id"], upload["upload_id"], args.build, args.target)
    url = accepted["project_url"] if args.target == "production" else accepted["url"]
    if args.no_wait or accepted["status"] == "READY":
        say(f"Deployment {accepted['id']} {accepted['status']}")
        say(url)
        return 0
    note(f"Deployment {accepted['id']} queued: building…")
    final = api.follow(accepted["id"], args.timeout, note)
    say(f"Deployment {accepted['id']} {final['status']}")
    if final["status"] != "READY":
        note(final.get("failure_reason") or f"not READY after {args.timeout:g} s")
        return 1
    say(url)
    return 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    api = Api(args.api, token=args.token)
    try:
        return deploy(api, args)
    except (DeployError, OSError) as exc:
        note(f"buildspace deploy: {exc}")
        return 2
    except KeyboardInterrupt:
        note("buildspace deploy: interrupted")
        return 2
    finally:
        api.close()

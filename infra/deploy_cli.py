"""``buildspace deploy [PATH]``: deploy a local directory without git (the command
itself is in ``infra.console_deploy``).

    buildspace deploy dist/ --name my-site            # served as it is, production
    buildspace deploy . --project <id> --build        # built on the platform
    buildspace deploy site/ --name my-site --preview  # only its own URL

Only the files the platform does not have yet are uploaded (a progress bar on stderr);
an unchanged directory uploads nothing. Progress goes to stderr; stdout gets only the
result: the URL (or the deployment as JSON with ``--json``). Exit codes: 0 READY (or
accepted, with ``--no-wait``), 1 FAILED, CANCELED or still building at the timeout, 2 a
usage or connection problem.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import credentials
from infra.deploy_client import Api, Progress, human_size
from infra.deploy_files import DeployError, hash_files, walk


@dataclass(frozen=True)
class DeployOptions:
    path: Path
    project: str | None  # an id: --project, else the linked one
    name: str | None
    build: bool
    target: str  # production or preview
    no_wait: bool
    timeout: float
    as_json: bool


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def result(deployment: dict[str, Any], url: str, as_json: bool) -> None:
    print(json.dumps(deployment, indent=2, sort_keys=True) if as_json else url, flush=True)


def project_of(api: Api, args: DeployOptions) -> dict[str, Any]:
    if args.project:
        return api.project(args.project)
    return api.project_named(args.name or args.path.resolve().name,
                             credentials.load().get("team_id"))


def deploy(api: Api, args: DeployOptions) -> int:
    files = hash_files(walk(args.path))
    if not files:
        raise DeployError(f"{args.path} has no files to deploy")
    project = project_of(api, args)
    note(f"Project {project['name']} ({project['id']})")
    upload = api.create_upload(project["id"], files)
    missing, sizes = upload["missing"], {f.sha256: f.size for f in files}
    note(f"{len(files)} files ({human_size(upload['total_bytes'])}): uploading "
        f"{len(missing)}, {upload['present']} already stored")
    if missing:
        progress = Progress(sum(sizes[m["sha256"]] for m in missing), len(missing))
        try:
            api.upload_missing(missing, files, progress)
        finally:
            progress.close()
    note(f"Uploaded {len(missing)} blobs")
    accepted = api.deploy(project["id"], upload["upload_id"], args.build, args.target)
    url = accepted["project_url"] if args.target == "production" else accepted["url"]
    if args.no_wait or accepted["status"] == "READY":
        note(f"Deployment {accepted['id']} {accepted['status']}")
        result(accepted, url, args.as_json)
        return 0
    note(f"Deployment {accepted['id']} queued: building…")
    final = api.follow(accepted["id"], args.timeout, note)
    if final["status"] != "READY":
        why = final.get("failure_reason") or f"not READY after {args.timeout:g} s"
        note(f"Deployment {accepted['id']} {final['status']}: {why}")
        if args.as_json:
            result(final, url, True)
        return 1
    note(f"Deployment {accepted['id']} READY")
    result(final, url, args.as_json)
    return 0


def main(args: DeployOptions, api_url: str, token: str | None) -> int:
    api = Api(api_url, token=token)
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

"""Deploy benchmark: time from POST to READY for the Vite fixture app, the platform
overhead (that time minus the install and build wall time measured inside the
sandbox), median of 5, and how many blobs a second deployment of the same commit
uploads.

    .venv/bin/python bench/deploy.py [--runs 5]

Runs its own platform (``buildspace up``) and git server on free ports. Targets:
overhead <= 1.5 s; 0 blobs for the second deployment of a commit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.gitserver import GitServer  # noqa: E402
from tests.support.platform import Platform, running_platform  # noqa: E402

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "vite-app"


def deploy_and_wait(api: httpx.Client, project_id: str) -> tuple[float, dict]:
    start = time.perf_counter()
    deployment_id = api.post(f"/v1/projects/{project_id}/deployments").json()["id"]
    while True:
        body = api.get(f"/v1/deployments/{deployment_id}").json()
        if body["status"] in ("READY", "FAILED"):
            elapsed = time.perf_counter() - start
            if body["status"] != "READY":
                raise SystemExit(f"deployment failed: {body['failure_reason']}")
            return elapsed, body
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    files = {str(p.relative_to(FIXTURE)): p.read_bytes() for p in FIXTURE.rglob("*")
             if p.is_file()}
    with tempfile.TemporaryDirectory() as tmp, GitServer(Path(tmp) / "git") as git, \
            running_platform(Path(tmp) / "platform") as platform:
        run(platform, git.make_repo("vite", files), args.runs)


def run(platform: Platform, url: str, runs: int) -> None:
    with platform.client() as api:
        project = api.post("/v1/projects", json={"name": "bench-vite", "git_url": url}).json()
        warm, first = deploy_and_wait(api, project["id"])  # fills the npm cache
        print(f"first deployment: {warm:.2f} s, uploaded {first['uploaded_blobs']} blobs")
        totals, overheads, uploads = [], [], []
        for i in range(runs):
            total, body = deploy_and_wait(api, project["id"])
            inside = (body["install_ms"] + body["build_ms"]) / 1000
            totals.append(total)
            overheads.append(total - inside)
            uploads.append(body["uploaded_blobs"])
            print(f"run {i + 1}: POST->READY {total:.2f} s, install+build {inside:.2f} s, "
                  f"overhead {total - inside:.2f} s, uploaded blobs {body['uploaded_blobs']}")
    overhead = statistics.median(overheads)
    print(f"\nmedian POST->READY: {statistics.median(totals):.2f} s")
    print(f"median platform overhead: {overhead:.2f} s (target <= 1.5 s: "
          f"{'met' if overhead <= 1.5 else 'MISSED'})")
    print(f"blobs uploaded by a redeploy of the same commit: {max(uploads)} (target 0: "
          f"{'met' if max(uploads) == 0 else 'MISSED'})")


if __name__ == "__main__":
    main()

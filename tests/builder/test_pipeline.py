"""Whole builds against the real things: git server, sandbox, npm, S3 and Kafka."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from builder.emitter import KafkaEmitter
from builder.pipeline import run_build
from infra.settings import Settings
from schemas.artifacts import Manifest, blob_key, manifest_key
from schemas.builds import BuildSpec
from tests.builder.support import BuildRecord, make_spec, node_site, read_build
from tests.support.gitserver import GitServer


async def build(settings: Settings, spec: BuildSpec,
                install_network: bool = True) -> BuildRecord:
    async with KafkaEmitter(settings, spec) as emitter:
        await run_build(spec, settings, emitter, install_network=install_network)
    return await read_build(settings, spec.deployment_id)


def manifest(s3: Any, settings: Settings, deployment_id: str) -> Manifest:
    body = s3.get_object(Bucket=settings.artifacts_bucket, Key=manifest_key(deployment_id))
    return Manifest.model_validate(json.loads(body["Body"].read()))


def no_manifest(s3: Any, settings: Settings, deployment_id: str) -> bool:
    with pytest.raises(ClientError):
        s3.head_object(Bucket=settings.artifacts_bucket, Key=manifest_key(deployment_id))
    return True


@pytest.mark.asyncio
async def test_an_npm_site_is_installed_built_and_published(settings, git_server: GitServer, s3):
    url = git_server.make_repo("pipeline-npm", node_site())
    spec = make_spec(url)
    record = await build(settings, spec)
    assert record.types() == ["BuildStarted", "BuildPlanned", "DeploymentReady"], record.text
    started, planned, ready = record.events
    assert planned["plan"]["package_manager"].startswith("npm@1")
    assert planned["plan"]["node_version"].startswith("26.")
    assert planned["plan"]["framework"] is None
    assert started["commit_sha"] == ready["commit_sha"] == git_server.head("pipeline-npm")
    assert started["runner"] == "local" and started["stream_id"] == spec.project_id
    assert (ready["file_count"], ready["uploaded_blobs"]) == (2, 2)
    assert ready["install_ms"] > 0 and ready["build_ms"] > 0
    assert [line["seq"] for line in record.lines] == list(range(1, len(record.lines) + 1))
    system = [line["line"] for line in record.lines if line["stream"] == "system"]
    assert system[0] == f"Cloning {url} at main"
    assert {"No framework detected", "Package manager: npm (no lockfile)",
            "Running `npm install --prefer-offline`",
            "Running `npm run build` (no network)"} <= set(system), system
    assert system[-1] == "Uploaded 2 of 2 files (0 already stored)"
    assert any(line["line"] == "wrote dist" and line["stream"] == "stdout"
               for line in record.lines)
    files = manifest(s3, settings, spec.deployment_id).files
    assert set(files) == {"index.html", "assets/app.js"}
    assert files["index.html"].content_type == "text/html; charset=utf-8"

    again = await build(settings, make_spec(url))
    assert again.outcome["type"] == "DeploymentReady" and again.outcome["uploaded_blobs"] == 0


@pytest.mark.asyncio
async def test_a_failing_build_is_reported_and_publishes_nothing(settings, git_server, s3):
    url = git_server.make_repo("pipeline-fail", node_site("echo 'boom' >&2; exit 1"))
    spec = make_spec(url)
    record = await build(settings, spec)
    assert record.types() == ["BuildStarted", "BuildPlanned", "DeploymentFailed"]
    assert record.outcome["reason"] == "build failed: `npm run build` exited with code 1"
    assert (record.outcome["step"], record.outcome["schema_version"]) == ("build", 2)
    assert record.outcome["commit_sha"] == git_server.head("pipeline-fail")
    assert any(line["stream"] == "stderr" and "boom" in line["line"] for line in record.lines)
    assert no_manifest(s3, settings, spec.deployment_id)


@pytest.mark.asyncio
async def test_a_repository_without_package_json_is_served_as_it_is(settings, git_server, s3):
    url = git_server.make_repo("pipeline-static", {"index.html": "<p>hi</p>",
                                                   "docs/index.html": "<p>docs</p>"})
    spec = make_spec(url)
    record = await build(settings, spec)
    assert record.outcome["type"] == "DeploymentReady", record.text
    assert record.outcome["install_ms"] == record.outcome["build_ms"] == 0
    assert "No package.json: serving the files as they are" in record.text
    assert set(manifest(s3, settings, spec.deployment_id).files) == {"index.html",
                                                                     "docs/index.html"}


@pytest.mark.asyncio
async def test_a_symlink_in_the_output_fails_the_build(settings, git_server, s3):
    link = "node -e \"require('fs').mkdirSync('dist'); require('fs').symlinkSync('/etc/passwd'," \
           " 'dist/passwd')\""
    spec = make_spec(git_server.make_repo("pipeline-symlink", node_site(link)))
    record = await build(settings, spec)
    assert record.outcome["reason"] == "passwd: a symlink is not allowed in the output"
    assert no_manifest(s3, settings, spec.deployment_id)


@pytest.mark.asyncio
async def test_a_missing_output_directory_fails_the_build(settings, git_server):
    spec = make_spec(git_server.make_repo("pipeline-no-output", node_site("echo nothing")))
    record = await build(settings, spec)
    assert record.outcome["type"] == "DeploymentFailed"
    assert "no output directory" in record.outcome["reason"]


@pytest.mark.asyncio
async def test_a_build_over_its_time_limit_fails(settings, git_server):
    url = git_server.make_repo("pipeline-slow", {"index.html": "x"})
    quick = settings.model_copy(update={"build_timeout_seconds": 2})
    record = await build(quick, make_spec(url, build_command="sleep 60"))
    assert record.outcome["reason"] == "build timed out after 2 s"


@pytest.mark.asyncio
async def test_an_unknown_branch_fails_before_the_build_starts(settings, git_server):
    url = git_server.make_repo("pipeline-branch", {"index.html": "x"})
    record = await build(settings, make_spec(url, ref="nope"))
    assert record.types() == ["DeploymentFailed"]
    assert record.outcome["reason"] == \
        "clone failed: git clone failed: fatal: Remote branch nope not found in upstream origin"
    assert record.outcome["commit_sha"] is None


@pytest.mark.asyncio
async def test_settings_choose_the_root_commands_and_output(settings, git_server, s3):
    files = {f"web/{k}": v for k, v in node_site().items()}
    url = git_server.make_repo("pipeline-settings", files)
    spec = make_spec(url, root_directory="web", install_command="echo custom install",
                     build_command="mkdir -p site && echo '<p>custom</p>' > site/index.html",
                     output_directory="site")
    record = await build(settings, spec)
    assert record.outcome["type"] == "DeploymentReady", record.text
    assert "custom install" in [line["line"] for line in record.lines]
    assert set(manifest(s3, settings, spec.deployment_id).files) == {"index.html"}


@pytest.mark.asyncio
async def test_build_variables_reach_the_build_but_not_the_log(settings, git_server, s3):
    url = git_server.make_repo("pipeline-env", {"index.html": "x"})
    spec = make_spec(url, build_command='mkdir out && printf "%s|%s" "$SITE_TITLE" "$HOME" '
                                        '> out/index.html', output_directory="out")
    spec = spec.model_copy(update={"env": {"SITE_TITLE": "Hello from env",
                                           "HOME": "/root", "bad name": "x"}})
    record = await build(settings, spec)
    assert record.outcome["type"] == "DeploymentReady", record.text
    assert "Build variables: SITE_TITLE" in record.system
    assert "Build variable HOME ignored: the builder sets it" in record.system
    assert "Hello from env" not in record.text
    entry = manifest(s3, settings, spec.deployment_id).files["index.html"]
    blob = s3.get_object(Bucket=settings.artifacts_bucket, Key=blob_key(entry.sha256))
    assert blob["Body"].read() == b"Hello from env|/home/builder"


@pytest.mark.parametrize("build_network", [False, True])
@pytest.mark.asyncio
async def test_the_build_has_no_network_unless_the_project_asks(settings, git_server,
                                                                build_network: bool):
    url = git_server.make_repo(f"pipeline-net-{build_network}", {"index.html": "x"})
    spec = make_spec(url, build_network=build_network, output_directory="out",
                     build_command="mkdir out && touch out/index.html && "
                                   "(grep -q tap0 /proc/net/dev && echo NETWORK || echo OFFLINE)")
    record = await build(settings, spec)
    assert record.outcome["type"] == "DeploymentReady", record.text
    assert ("NETWORK" if build_network else "OFFLINE") in record.text.splitlines()


@pytest.mark.asyncio
async def test_output_over_the_size_limit_is_refused(settings, git_server, s3):
    url = git_server.make_repo("pipeline-big-output", {"index.html": "x"})
    spec = make_spec(url, build_command="mkdir out && head -c 3M /dev/zero > out/big.bin",
                     output_directory="out")
    record = await build(settings.model_copy(update={"build_output_mb": 2}), spec)
    assert record.outcome["reason"] == "output is larger than the limit: 2 MiB"
    assert no_manifest(s3, settings, spec.deployment_id)

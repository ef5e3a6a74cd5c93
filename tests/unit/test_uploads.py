"""Uploads without services: path rules, the file list's checks, the client's walk,
and deciding a deployment of an upload."""

from __future__ import annotations

import pytest

from commands.projects.decide import ProjectState
from commands.uploads.decide import request_upload_deployment
from infra.deploy_files import hash_files, walk
from schemas.audit import Actor
from schemas.envelope import Meta
from schemas.errors import Invalid, NotFound
from schemas.uploads import UploadedFile, check_files, check_upload_path

SHA = "0" * 64


@pytest.mark.parametrize("path", ["index.html", "a/b/c.js", ".well-known/security.txt",
                                  "docs/.well-known/x", "ünïcode.html"])
def test_site_paths_are_accepted(path):
    assert check_upload_path(path) is None


@pytest.mark.parametrize("path", ["", "/abs", "../x", "a/../b", "a//b", "./a", ".env",
                                  "a/.git/config", "a\\b", "a\x00b", "tab\there",
                                  "x" * 1025, "a/" + "y" * 256])
def test_bad_paths_are_refused(path):
    assert check_upload_path(path) is not None


def test_the_file_list_is_checked_file_by_file_and_in_all():
    one = UploadedFile(sha256=SHA, size=600 << 10)
    assert check_files({"a": one}, 1 << 20) == 600 << 10
    with pytest.raises(Invalid) as too_big:
        check_files({"a": UploadedFile(sha256=SHA, size=2 << 20)}, 1 << 20)
    assert too_big.value.field == "files.a"
    with pytest.raises(Invalid) as in_all:
        check_files({"a": one, "b": one}, 1 << 20)
    assert in_all.value.field == "files"
    with pytest.raises(Invalid) as both:
        check_files({"a/b": one, "a/b/c": one}, 2 << 20)
    assert both.value.field == "files.a/b"


def test_the_client_skips_what_is_never_deployed(tmp_path):
    for path in ("index.html", "css/site.css", ".env", ".git/HEAD", "node_modules/x/i.js",
                 ".well-known/security.txt", "drafts/post.md", "notes.tmp", ".buildspaceignore",
                 "sub/.hidden"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(path)
    (tmp_path / ".buildspaceignore").write_text("# comment\ndrafts/\n*.tmp\n")
    (tmp_path / "link.html").symlink_to(tmp_path / "index.html")
    files = hash_files(walk(tmp_path))
    assert [f.path for f in files] == [".well-known/security.txt", "css/site.css",
                                       "index.html", "link.html"]
    assert files[2].sha256 == files[3].sha256 and files[2].size == len("index.html")


def test_an_upload_is_requested_like_any_deployment():
    """Only ``DeploymentRequested`` is decided: the worker publishes or builds it."""
    state = ProjectState(project_id="p", exists=True, subdomain="s", deployments=4)
    token = Actor(kind="token", id="t1", user_id="u1")
    requested = request_upload_deployment(state, "u" * 32, "d", False, "preview", True,
                                          Meta.new(), requested_by=token)
    assert requested.number == 5 and requested.spec.ref == "upload"
    assert requested.requested_by == token
    assert requested.spec.upload_id == "u" * 32 and requested.spec.prebuilt
    assert requested.target == "preview" and requested.branch is None
    built = request_upload_deployment(state, "u" * 32, "d2", True, "production", True,
                                      Meta.new(), requested_by=token)
    assert not built.spec.prebuilt and built.target == "production"
    with pytest.raises(NotFound):
        request_upload_deployment(ProjectState(project_id="q"), "u", "d", False,
                                  "production", True, Meta.new(), requested_by=token)

"""Deployments of a local directory, without git: the client names each file by its
sha256 and size, uploads the blobs the platform lacks, then deploys the upload (as it
is, or built).

An upload is stored as ``uploads/<upload_id>.json`` (``UploadRecord``) next to the
manifests. Blobs the client is asked for are sent to a staging key of the upload
(``staged_key``) and only enter the content-addressed store once the platform has
checked that their content hashes to their name, so a client can never put wrong bytes
under a name other deployments share.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.errors import Invalid

UPLOAD_REF = "upload"  # the ``ref`` of a deployment of uploaded files
MAX_FILES = 100_000
MAX_PATH = 1024
MAX_SEGMENT = 255
WELL_KNOWN = ".well-known"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class UploadedFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: Sha256 = Field(description="lowercase hex sha256 of the file's bytes")
    size: int = Field(ge=0, description="bytes")


class CreateUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: dict[str, UploadedFile] = Field(
        min_length=1, max_length=MAX_FILES,
        description="site path (``assets/app.js``, no leading slash) -> its sha256 and size")


class BlobUpload(BaseModel):
    sha256: str
    url: str = Field(description="presigned PUT, valid for minutes")
    headers: dict[str, str] = Field(description="send exactly these headers with the PUT")


class UploadOut(BaseModel):
    upload_id: str
    files: int
    total_bytes: int
    missing: list[BlobUpload] = Field(description="blobs the platform lacks: PUT each "
                                                  "(once per sha256), then deploy")
    present: int = Field(description="distinct blobs already stored: nothing to send")


class DeployUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    build: bool = Field(default=False, description="false: serve the files as they are; "
                        "true: build them like a checkout (install, build, output dir)")
    target: Literal["production", "preview"] = Field(
        default="production", description="production: becomes the project's production "
        "deployment when READY; preview: only its own URL")
    build_cache: bool = Field(default=True, description="with build: reuse the output of "
                              "an earlier build of exactly the same files")


class UploadRecord(BaseModel):
    """What was uploaded, stored at ``upload_key``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    upload_id: str
    project_id: str
    files: dict[str, UploadedFile]
    staged: dict[str, int] = Field(default_factory=dict,
                                   description="sha256 -> size of the blobs sent to staging")
    created_at: datetime


class SourceFile(BaseModel):
    sha256: str
    size: int
    url: str = Field(description="presigned GET of the blob")


class BuildSource(BaseModel):
    """The files a remote builder fetches for a build of an upload."""

    upload_id: str
    files: dict[str, SourceFile]


def upload_key(upload_id: str) -> str:
    return f"uploads/{upload_id}.json"


def staged_key(upload_id: str, sha256: str) -> str:
    return f"uploads/{upload_id}/{sha256}"


def check_upload_path(path: str) -> str | None:
    """What is wrong with ``path`` as a site path, or None. Relative, ``/``-separated,
    no empty, ``.`` or ``..`` segment, no dotfile except ``.well-known`` directories, no
    backslash or control character, as the collector and the edge see paths."""
    if not path or len(path.encode("utf-8", "surrogatepass")) > MAX_PATH:
        return f"must be 1 to {MAX_PATH} bytes"
    if path.startswith("/"):
        return "must be relative (no leading /)"
    if "\\" in path or CONTROL.search(path):
        return "must not contain a backslash or control character"
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid UTF-8"
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            return "must not have an empty, '.' or '..' segment"
        if len(segment) > MAX_SEGMENT:
            return f"a segment is longer than {MAX_SEGMENT} characters"
        if segment.startswith(".") and segment != WELL_KNOWN:
            return "dotfiles are not deployed (except under .well-known/)"
    return None


def check_files(files: dict[str, UploadedFile], max_bytes: int) -> int:
    """The total size of a valid upload; ``Invalid`` naming the first bad file."""
    total = 0
    for path, file in files.items():
        problem = check_upload_path(path)
        if problem is None and file.size > max_bytes:
            problem = f"is larger than the limit of {max_bytes >> 20} MiB"
        if problem is not None:
            raise Invalid(f"{path!r} {problem}", field=f"files.{path}")
        total += file.size
    if total > max_bytes:
        raise Invalid(f"the files add up to more than {max_bytes >> 20} MiB", field="files")
    directories = {path.rsplit("/", n)[0] for path in files for n in range(1, path.count("/") + 1)}
    for path in sorted(directories & set(files)):
        raise Invalid(f"{path!r} is both a file and a directory", field=f"files.{path}")
    return total


def distinct(files: dict[str, UploadedFile]) -> dict[str, int]:
    """sha256 -> size, each blob once."""
    return {f.sha256: f.size for f in files.values()}

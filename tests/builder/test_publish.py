"""Publishing output to a real S3 server (rclone): content-addressed, each blob once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from builder.collect import collect
from builder.publish import publish
from infra.object_store import Bucket
from infra.settings import Settings
from schemas.artifacts import Manifest, blob_key, manifest_key
from schemas.envelope import new_id


def site(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / "dist" / path).parent.mkdir(parents=True, exist_ok=True)
        (root / "dist" / path).write_text(text)
    return root


def test_blobs_are_uploaded_once_and_the_manifest_last(s3: Any, s3_settings: Settings,
                                                       tmp_path: Path):
    marker = new_id()
    files = {"index.html": f"<h1>{marker}</h1>", "again.html": f"<h1>{marker}</h1>",
             "assets/app.js": f"// {marker}"}
    checkout = site(tmp_path, files)
    bucket, first = s3_settings.artifacts_bucket, f"dpl_{new_id()[:12]}"

    result = publish(Bucket(s3, bucket), first, collect(checkout, checkout / "dist"))
    assert (result.file_count, result.uploaded_blobs, result.distinct_blobs) == (3, 2, 2)
    assert result.total_bytes == sum(len(text) for text in files.values())

    body = s3.get_object(Bucket=bucket, Key=manifest_key(first))["Body"].read()
    manifest = Manifest.model_validate(json.loads(body))
    assert manifest.deployment_id == first and set(manifest.files) == set(files)
    entry = manifest.files["assets/app.js"]
    assert entry.sha256 == hashlib.sha256(files["assets/app.js"].encode()).hexdigest()
    assert entry.content_type == "text/javascript; charset=utf-8"
    blob = s3.get_object(Bucket=bucket, Key=blob_key(entry.sha256))["Body"].read()
    assert blob.decode() == files["assets/app.js"]


def test_a_second_publish_of_the_same_files_uploads_nothing(s3: Any, s3_settings: Settings,
                                                            tmp_path: Path):
    checkout = site(tmp_path, {"index.html": new_id(), "a.css": new_id()})
    bucket = s3_settings.artifacts_bucket
    store = Bucket(s3, bucket)
    first = publish(store, f"dpl_{new_id()[:12]}", collect(checkout, checkout / "dist"))
    second_id = f"dpl_{new_id()[:12]}"
    second = publish(Bucket(s3, bucket), second_id, collect(checkout, checkout / "dist"))
    assert (first.uploaded_blobs, second.uploaded_blobs) == (2, 0)
    assert s3.head_object(Bucket=bucket, Key=manifest_key(second_id))["ContentLength"] > 0


def test_a_changed_file_uploads_only_that_blob(s3: Any, s3_settings: Settings, tmp_path: Path):
    checkout = site(tmp_path, {"index.html": new_id(), "a.css": new_id()})
    store = Bucket(s3, s3_settings.artifacts_bucket)
    publish(store, f"dpl_{new_id()[:12]}", collect(checkout, checkout / "dist"))
    site(tmp_path, {"index.html": new_id()})
    again = publish(store, f"dpl_{new_id()[:12]}", collect(checkout, checkout / "dist"))
    assert (again.file_count, again.uploaded_blobs) == (2, 1)

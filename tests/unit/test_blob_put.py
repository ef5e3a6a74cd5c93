"""``put_file``: the CLI's and remote builders' PUT to a presigned URL retries what S3 asks
clients to retry, and nothing else, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from infra.blob_put import StoreRefused, put_file
from tests.support.receiver import Receiver

NO_PAUSE = (0.0, 0.0, 0.0)


@pytest.fixture
def blob(tmp_path):
    path = tmp_path / "app.js"
    path.write_bytes(b"console.log(1)")
    return path


def test_a_transient_internal_error_is_retried_and_the_blob_arrives(blob):
    with Receiver(statuses=[500, 503]) as store, httpx.Client() as http:
        put_file(http, store.url, {"x-amz-checksum-sha256": "c"}, blob, "app.js", NO_PAUSE)
        got = store.wait(3)
    assert [r.status for r in got] == [500, 503, 200]
    assert all(r.body == b"console.log(1)" for r in got)  # the file is reopened each time
    assert got[-1].headers["x-amz-checksum-sha256"] == "c"


def test_a_refusal_that_is_not_transient_is_final_at_once(blob):
    with Receiver(statuses=[403]) as store, httpx.Client() as http:
        with pytest.raises(StoreRefused, match="the store refused app.js: 403"):
            put_file(http, store.url, {}, blob, "app.js", NO_PAUSE)
        assert len(store.received) == 1


def test_a_store_that_keeps_failing_is_reported_after_the_last_attempt(blob):
    with Receiver(statuses=[500] * 4) as store, httpx.Client() as http:
        with pytest.raises(StoreRefused, match="refused app.js: 500"):
            put_file(http, store.url, {}, blob, "app.js", NO_PAUSE)
        assert len(store.received) == 4


def test_a_symlink_is_followed_only_when_asked(blob, tmp_path):
    link = tmp_path / "link.js"
    link.symlink_to(blob)
    with Receiver() as store, httpx.Client() as http:
        with pytest.raises(OSError):
            put_file(http, store.url, {}, link, "link.js", NO_PAUSE)
        put_file(http, store.url, {}, link, "link.js", NO_PAUSE, follow_symlinks=True)
        assert [r.body for r in store.wait(1)] == [b"console.log(1)"]

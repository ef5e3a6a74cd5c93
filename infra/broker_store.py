"""The object store the embedded Kafka broker keeps its log in: the part of the S3 API
that Tansu uses, on files under one directory, served on 127.0.0.1.

Why not rclone's S3 server, which holds the artifacts: Tansu appends a record batch with
``If-None-Match: *`` and moves a partition's watermark with ``If-Match: <etag>``, and
rclone ignores both, so two producers appending to one partition at once overwrite each
other's batch and both are acknowledged. Tansu also lists a partition's batches on every
fetch; rclone lists a directory from the disk, hashing each file for its ETag, so a fetch
took longer the more batches a partition held. Here writes are checked and applied in one
step of the event loop, the keys are held sorted in memory with their listing entries
rendered once, and each object is a file at ``root/<bucket>/<key>``.

Requests are signed with AWS Signature V4 (headers); ``infra.sigv4`` checks them.
Run as ``BUILDSPACE_BROKER_STORE_AUTH=KEY,SECRET python -m infra.broker_store ROOT --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qsl, unquote
from xml.sax.saxutils import escape

from aiohttp import web

from infra.sigv4 import SignatureError, verify
from infra.store_bucket import Bucket, S3Error

AUTH_ENV = "BUILDSPACE_BROKER_STORE_AUTH"  # ACCESS_KEY,SECRET_KEY (not in argv: ps shows it)
MAX_BODY = 1 << 30
XMLNS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


class Store:
    def __init__(self, root: Path, access_key: str, secret_key: str) -> None:
        self.root = root
        self.credentials = {access_key: secret_key}
        self.tmp = root / ".staging"
        self.tmp.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp.iterdir():
            stale.unlink()
        self.buckets = {p.name: Bucket(p) for p in root.iterdir()
                        if p.is_dir() and not p.name.startswith(".")}

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            if request.headers.get("Expect", "").lower() == "100-continue":  # boto3 asks
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await _body(request) if request.method == "PUT" else b""
            path, _, query = request.raw_path.partition("?")
            try:
                verify(request.method, path, query, request.headers, body, self.credentials)
            except SignatureError as e:
                raise S3Error(403, "SignatureDoesNotMatch", str(e)) from e
            name, _, key = unquote(path).lstrip("/").partition("/")
            return self.route(request, name, key, dict(parse_qsl(query,
                                                                 keep_blank_values=True)), body)
        except S3Error as e:
            return _error(e)

    def route(self, request: web.BaseRequest, name: str, key: str, query: dict[str, str],
              body: bytes) -> web.StreamResponse:
        method = request.method
        if not name:
            raise S3Error(405, "MethodNotAllowed", "no bucket named")
        if not key and method == "PUT":
            return self.create_bucket(name)
        bucket = self.buckets.get(name)
        if bucket is None:
            raise S3Error(404, "NoSuchBucket", f"no bucket {name}")
        if not key:
            if method == "HEAD":
                return web.Response()
            if method == "GET":
                return self.list(bucket, query)
            raise S3Error(405, "MethodNotAllowed", f"{method} on a bucket")
        if method == "PUT":
            entry = bucket.put(key, body, request.headers.get("If-Match"),
                               request.headers.get("If-None-Match"), self.tmp)
            return web.Response(headers={"ETag": entry.etag})
        if method == "DELETE":
            bucket.delete(key)
            return web.Response(status=204)
        if method in ("GET", "HEAD"):
            return self.get(request, bucket, key)
        raise S3Error(405, "MethodNotAllowed", f"{method} on an object")

    def create_bucket(self, name: str) -> web.Response:
        if name in self.buckets:
            raise S3Error(409, "BucketAlreadyOwnedByYou", f"{name} exists")
        if not name.replace("-", "").replace(".", "").isalnum() or not 3 <= len(name) <= 63:
            raise S3Error(400, "InvalidBucketName", f"bad bucket name {name!r}")
        (self.root / name).mkdir(exist_ok=True)
        self.buckets[name] = Bucket(self.root / name)
        return web.Response()

    def get(self, request: web.BaseRequest, bucket: Bucket, key: str) -> web.StreamResponse:
        entry = bucket.entries.get(key)
        if entry is None:
            raise S3Error(404, "NoSuchKey", f"no key {key}")
        etag = bucket.etag(key, entry)
        headers = {"ETag": etag, "Last-Modified": formatdate(entry.mtime, usegmt=True),
                   "Content-Type": "application/octet-stream"}
        wanted = request.headers.get("If-Match")
        if wanted is not None and wanted not in ("*", etag):
            raise S3Error(412, "PreconditionFailed", f"{key} has another ETag")
        if request.headers.get("If-None-Match") in ("*", etag):
            return web.Response(status=304, headers={"ETag": etag})
        if request.method == "HEAD":
            headers["Content-Length"] = str(entry.size)
            return web.Response(headers=headers)
        data = bucket.file(key).read_bytes()
        if (spec := request.headers.get("Range", "")).startswith("bytes="):
            first, _, last = spec[6:].partition("-")
            lo = int(first) if first else max(len(data) - int(last), 0)
            hi = min(int(last), len(data) - 1) if first and last else len(data) - 1
            if lo > hi:
                raise S3Error(416, "InvalidRange", spec)
            headers["Content-Range"] = f"bytes {lo}-{hi}/{len(data)}"
            return web.Response(status=206, body=data[lo:hi + 1], headers=headers)
        return web.Response(body=data, headers=headers)

    def list(self, bucket: Bucket, q: dict[str, str]) -> web.Response:
        query = tuple(q.get(name, "") for name in (
            "list-type", "prefix", "delimiter", "continuation-token", "start-after", "marker",
            "max-keys"))
        if (page := bucket.pages.get(query)) is None:
            page = self.render(bucket, q)
            if page[1] and len(bucket.pages) < 10_000:
                bucket.pages[query] = page
        return web.Response(body=page[2], content_type="application/xml")

    def render(self, bucket: Bucket, q: dict[str, str]) -> tuple[str, str, bytes]:
        """One listing page: (the key it starts after, the last key when more follow,
        the XML)."""
        v2 = q.get("list-type") == "2"
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        after = q.get("continuation-token") or q.get("start-after", "") if v2 else \
            q.get("marker", "")
        try:
            limit = min(max(int(q.get("max-keys", "1000")), 0), 1000)
        except ValueError as e:
            raise S3Error(400, "InvalidArgument", "max-keys is not a number") from e
        contents, prefixes, last = bucket.list(prefix, after, limit, delimiter)
        head = (f"<ListBucketResult {XMLNS}><Name>{escape(bucket.path.name)}</Name>"
                f"<Prefix>{escape(prefix)}</Prefix><MaxKeys>{limit}</MaxKeys>"
                f"<IsTruncated>{'true' if last else 'false'}</IsTruncated>")
        if delimiter:
            head += f"<Delimiter>{escape(delimiter)}</Delimiter>"
        if v2:
            head += f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>"
            if last:
                head += f"<NextContinuationToken>{escape(last)}</NextContinuationToken>"
        elif last:
            head += f"<NextMarker>{escape(last)}</NextMarker>"
        tail = "".join(f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>"
                       for p in prefixes) + "</ListBucketResult>"
        return after, last, b"".join([head.encode(), *contents, tail.encode()])


async def _body(request: web.BaseRequest) -> bytes:
    """The whole body, however large (aiohttp's ``read()`` stops at 1 MiB). Refusing a
    batch Tansu has already counted in its watermark would leave a hole no consumer gets
    past, so the only limit is ``MAX_BODY``, far above any Kafka message."""
    if (request.content_length or 0) > MAX_BODY:
        raise S3Error(400, "EntityTooLarge", "object too large")
    chunks = []
    size = 0
    while chunk := await request.content.read(1 << 20):
        size += len(chunk)
        if size > MAX_BODY:
            raise S3Error(400, "EntityTooLarge", "object too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _error(e: S3Error) -> web.Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{e.code}</Code>'
            f"<Message>{escape(e.message)}</Message></Error>")
    return web.Response(status=e.status, text=body, content_type="application/xml")


async def serve(root: Path, port: int, access_key: str, secret_key: str) -> None:
    store = Store(root, access_key, secret_key)
    server = web.Server(store.handle, access_log=None)
    runner = web.ServerRunner(server, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=512).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    key, _, secret = os.environ.get(AUTH_ENV, "").partition(",")
    if not key or not secret:
        parser.error(f"set {AUTH_ENV}=ACCESS_KEY,SECRET_KEY")
    args.root.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args.root, args.port, key, secret))


if __name__ == "__main__":
    main()

"""A minimal ECS API (JSON 1.1 over HTTP on 127.0.0.1) for end-to-end tests of a platform
whose runner is ``ecs``: it records each RunTask as sent, so a test can start the task's
builder itself with exactly the environment ECS would give it, and answers ListTasks,
DescribeTasks and StopTask for those tasks. (moto's own server needs Flask, which the
test environment lacks; the ECS runner itself is tested against moto in-process.)
"""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.waiting import eventually

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
ARN_PREFIX = "arn:aws:ecs:us-east-1:123456789012:task/buildspace/"


class FakeEcs:
    """``with FakeEcs() as ecs:`` serves at ``ecs.url``; ``ecs.requests`` are the RunTask
    parameters received, in order."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeEcs:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def run_task_for(self, deployment_id: str, timeout: float = 60) -> dict[str, Any]:
        """The RunTask parameters that launched ``deployment_id``'s build, once sent."""
        def sent() -> dict[str, Any]:
            with self._lock:
                for request in self.requests:
                    tags = {t["key"]: t["value"] for t in request.get("tags", [])}
                    if tags.get("deployment_id") == deployment_id:
                        return request
            return {}
        return eventually(sent, timeout, what=f"a task started for deployment {deployment_id}",
                          interval=0.05)

    def answer(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if action == "RunTask":
                return self._run_task(body)
            if action == "ListTasks":
                return {"taskArns": [arn for arn, t in self.tasks.items()
                                     if t["desiredStatus"] == "RUNNING"]}
            if action == "DescribeTasks":
                return {"tasks": [self.tasks[a] for a in body["tasks"] if a in self.tasks],
                        "failures": []}
            if action == "StopTask":
                task = self.tasks[body["task"]]
                task.update(desiredStatus="STOPPED", stoppedReason=body.get("reason", ""))
                return {"task": task}
        raise KeyError(action)

    def _run_task(self, body: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(body)
        arn = f"{ARN_PREFIX}{next(self._ids):032x}"
        self.tasks[arn] = {"taskArn": arn, "tags": body.get("tags", []),
                           "overrides": body.get("overrides", {}),
                           "lastStatus": "PROVISIONING", "desiredStatus": "RUNNING"}
        return {"tasks": [self.tasks[arn]], "failures": []}


def _handler(ecs: FakeEcs) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server name
            action = self.headers.get("X-Amz-Target", "").removeprefix(TARGET_PREFIX)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            try:
                status, answer = 200, ecs.answer(action, body)
            except KeyError as exc:
                status, answer = 400, {"__type": "InvalidParameterException",
                                       "message": f"unknown: {exc}"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler

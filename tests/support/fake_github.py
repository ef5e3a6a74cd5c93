"""A fake GitHub for the OAuth sign-in tests (GitHub itself cannot be reached here):
the authorize page approves at once, the token endpoint checks the client secret and
the PKCE verifier, and ``/user`` and ``/user/emails`` answer for its one account."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


class FakeGitHub:
    def __init__(self, client_id: str, client_secret: str, user_id: int, email: str) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.user = {"id": user_id, "login": "octocat"}
        self.emails = [{"email": "old@gh.test", "primary": False, "verified": True},
                       {"email": email, "primary": True, "verified": True}]
        self.codes: dict[str, str] = {}  # code -> PKCE challenge
        self.tokens: set[str] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(github: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/login/oauth/authorize":
                if query.get("client_id") != github.client_id:
                    return self._json(400, {"error": "unknown client"})
                code = secrets.token_hex(8)
                github.codes[code] = query.get("code_challenge", "")
                self.send_response(302)
                self.send_header("Location", query["redirect_uri"] + "?" + urlencode(
                    {"code": code, "state": query["state"]}))
                self.end_headers()
                return None
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in github.tokens:
                return self._json(401, {"message": "Bad credentials"})
            if url.path == "/user":
                return self._json(200, github.user)
            if url.path == "/user/emails":
                return self._json(200, github.emails)
            return self._json(404, {"message": "Not Found"})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            basic = self.headers.get("Authorization", "")
            if basic.startswith("Basic "):
                client, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
                form |= {"client_id": client, "client_secret": secret}
            challenge = github.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            expected = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if (form.get("client_secret") != github.client_secret or challenge is None
                    or challenge != expected):
                return self._json(200, {"error": "bad_verification_code"})
            token = secrets.token_hex(16)
            github.tokens.add(token)
            return self._json(200, {"access_token": token, "token_type": "bearer",
                                    "scope": "read:user,user:email"})
    return Handler

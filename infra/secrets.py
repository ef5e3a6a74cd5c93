"""Platform keys: from settings when given, else generated once into
``data_dir/secrets/`` (mode 0600) so an embedded install keeps them across restarts."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from infra.settings import Settings


def _stored_key(settings: Settings, name: str) -> bytes:
    path: Path = settings.data_path / "secrets" / name
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = base64.urlsafe_b64encode(os.urandom(32))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


def env_key(settings: Settings) -> bytes:
    """The Fernet key (urlsafe base64 of 32 bytes) that encrypts build variables."""
    given = settings.env_key.get_secret_value()
    return given.encode() if given else _stored_key(settings, "env.key")


def grant_key(settings: Settings) -> bytes:
    """The HMAC key that signs per-deployment build grants."""
    given = settings.grant_secret.get_secret_value()
    return given.encode() if given else _stored_key(settings, "grant.key")


class EnvCipher:
    """Encrypts a project's build variables for events; decrypts them for a build."""

    def __init__(self, key: bytes) -> None:
        from cryptography.fernet import Fernet

        self._fernet = Fernet(key)

    def encrypt(self, variables: dict[str, str]) -> str:
        import orjson

        return self._fernet.encrypt(orjson.dumps(variables)).decode()

    def encrypt_bytes(self, data: bytes) -> str:
        """Seal anything else kept at rest (a stored answer that may hold a secret)."""
        return self._fernet.encrypt(data).decode()

    def decrypt_bytes(self, ciphertext: str) -> bytes:
        return self._fernet.decrypt(ciphertext.encode())

    def decrypt(self, ciphertext: str) -> dict[str, str]:
        import orjson

        return dict(orjson.loads(self._fernet.decrypt(ciphertext.encode())))

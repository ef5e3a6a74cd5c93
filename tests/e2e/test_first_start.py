"""The first start of ``buildspace up`` with no owner password set: one is generated
and printed once; a restart on the same data dir keeps the owner and prints nothing."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.platform import running_platform

PRINTED = re.compile(r"the instance owner is admin@localhost, with the password (\S+) ")


def test_a_generated_owner_password_is_printed_once_and_kept(tmp_path: Path):
    with running_platform(tmp_path / "first", BUILDSPACE_ADMIN_EMAIL="admin@localhost",
                          BUILDSPACE_ADMIN_PASSWORD="") as platform:
        [password] = PRINTED.findall(platform.log_path.read_text())
        assert platform.login("admin@localhost", password).startswith("bs_")

        platform.restart()
        assert len(PRINTED.findall(platform.log_path.read_text())) == 1
        token = platform.login("admin@localhost", password)
        with platform.anonymous() as c:
            me = c.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["email"] == "admin@localhost" and me["instance_owner"]

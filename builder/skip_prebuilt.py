"""A runner wrapper for deployments that need no build.

A deployment of uploaded files served as they are (``BuildSpec.prebuilt``) is READY in
the same breath as it is requested: the API appends ``DeploymentRequested`` and then
``DeploymentReady``. The build queue sees the request first and may hand it to the
runner before it sees the READY; this wrapper answers such a launch without starting
anything. Should the READY never come (the API died between the two appends), the
watchdog fails the deployment as for any build that stopped reporting.
"""

from __future__ import annotations

from typing import Any

from schemas.builds import BuildSpec

PREBUILT = "prebuilt"


class SkipPrebuilt:
    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.name = runner.name

    async def launch(self, spec: BuildSpec) -> str:
        if spec.prebuilt:
            return PREBUILT
        ref: str = await self.runner.launch(spec)
        return ref

    async def cancel(self, deployment_id: str) -> None:
        await self.runner.cancel(deployment_id)

    async def close(self) -> None:
        await self.runner.close()

    def __getattr__(self, name: str) -> Any:
        """Everything else (``running``, ``reap_overdue``) is the runner's."""
        return getattr(self.runner, name)

"""`SandboxWorld`: the read-only view of the emulated state that the rules layer checks calls against."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .ecs_model import ACCOUNT_ID

# moto keeps these in one backend per partition, not per region.
GLOBAL_SERVICES = ("route53", "iam", "sts", "s3")


class SandboxWorld:
    def __init__(self, region: str, ecs: Callable[[str], Any], clock: Callable[[], float]) -> None:
        self.region = region
        self._ecs = ecs
        self._clock = clock

    def moto(self, service: str) -> Any:
        from moto import backends as moto_backends

        get_backend: Any = moto_backends.get_backend  # typed per literal service name in moto
        backends = get_backend(service)[ACCOUNT_ID]
        return backends["aws" if service in GLOBAL_SERVICES else self.region]

    def ecs(self) -> Any:
        return self._ecs(self.region)

    def now(self) -> float:
        return self._clock()

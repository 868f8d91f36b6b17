"""lb-sync's two documents, in statika's formats: the configuration and the services list."""

from __future__ import annotations

from typing import Annotated

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from ..config import parse_json_document


class LbSyncConfig(BaseModel):
    """statika's configuration file: `{"cluster": ..., "sleepTimeSeconds": ...}`."""

    model_config = ConfigDict(extra="ignore")

    cluster: Annotated[str, Field(min_length=1)]
    sleepTimeSeconds: Annotated[int, Field(ge=1, le=86400)] = 30


class ServiceEntry(BaseModel):
    """One service to balance, as statika's services file writes it (plus `containerPort`)."""

    model_config = ConfigDict(extra="ignore")

    serviceName: str | None = None
    family: str | None = None
    exposedContainerName: Annotated[str, Field(min_length=1)]
    loadBalancerName: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")]
    containerPort: Annotated[int, Field(ge=1, le=65535)] | None = None

    @pydantic.model_validator(mode="after")
    def _names_a_workload(self) -> ServiceEntry:
        if not (self.family or self.serviceName):
            raise ValueError("give `family` (the task definition family) or `serviceName`")
        return self

    @property
    def label(self) -> str:
        return self.serviceName or self.family or self.loadBalancerName


class ServiceList(pydantic.RootModel[list[ServiceEntry]]):
    @pydantic.model_validator(mode="after")
    def _one_service_per_load_balancer(self) -> ServiceList:
        seen: dict[str, str] = {}
        for entry in self.root:
            if entry.loadBalancerName in seen:
                raise ValueError(
                    f"load balancer {entry.loadBalancerName!r} is given to both {seen[entry.loadBalancerName]!r} "
                    f"and {entry.label!r}: a Classic ELB has one instance port, so one service each"
                )
            seen[entry.loadBalancerName] = entry.label
        return self


def parse_services(source: str, raw: bytes) -> list[ServiceEntry]:
    services: ServiceList = parse_json_document(source, raw, ServiceList)
    return services.root


def parse_config(source: str, raw: bytes) -> LbSyncConfig:
    config: LbSyncConfig = parse_json_document(source, raw, LbSyncConfig)
    return config

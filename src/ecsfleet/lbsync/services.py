"""lb-sync's two documents, in statika's formats: the configuration and the services list.

statika is Go: encoding/json matched its keys whatever their case (an exact match first), ignored
unknown keys, and read `null` as "not given". Both documents are read the same way here."""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from ..config import parse_json_document

# A Classic ELB quota is 20 a region by default; a file naming more than this many is not a
# services file, and reading it would cost one DescribeLoadBalancers call per 20 names a pass.
MAX_SERVICES = 1000


class GoJson(BaseModel):
    """A model whose keys are matched as Go's encoding/json matches them: exact, else any case."""

    model_config = ConfigDict(extra="ignore")

    @pydantic.model_validator(mode="before")
    @classmethod
    def _any_case(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        names = {name.casefold(): name for name in cls.model_fields}
        return {key if key in cls.model_fields else names.get(key.casefold(), key): value
                for key, value in data.items()}


class LbSyncConfig(GoJson):
    """statika's configuration file: `{"cluster": ..., "sleepTimeSeconds": ...}`."""

    cluster: Annotated[str, Field(min_length=1)]
    # statika slept `sleepTimeSeconds` between loops: 0 (or null) meant no pause at all.
    sleepTimeSeconds: Annotated[int, Field(ge=0, le=86400)] | None = 30

    @property
    def interval(self) -> float:
        """Seconds between passes: statika's 0 (no pause) becomes one pass a second, the
        shortest interval lb-sync runs at (a loop with no pause would call AWS without end)."""
        return float(max(self.sleepTimeSeconds or 0, 1))


class ServiceEntry(GoJson):
    """One service to balance, as statika's services file writes it (plus `containerPort`)."""

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
    @pydantic.model_validator(mode="before")
    @classmethod
    def _statika_inputs(cls, data: Any) -> Any:
        if data is None:
            return []  # statika read a `null` file as no service
        if isinstance(data, list):
            nulls = [str(n) for n, entry in enumerate(data) if entry is None]
            if nulls:
                raise ValueError(f"entry {', '.join(nulls)} is null (statika stopped on it with a nil pointer): "
                                 f"remove it, or write the service as {{\"serviceName\": ..., "
                                 f"\"exposedContainerName\": ..., \"loadBalancerName\": ...}}")
            if len(data) > MAX_SERVICES:
                raise ValueError(f"{len(data)} services: at most {MAX_SERVICES} (one Classic ELB each)")
        return data

    @pydantic.model_validator(mode="after")
    def _one_service_per_load_balancer(self) -> ServiceList:
        seen: dict[str, ServiceEntry] = {}
        kept: list[ServiceEntry] = []
        for entry in self.root:
            first = seen.get(entry.loadBalancerName)
            if first is None:
                seen[entry.loadBalancerName] = entry
                kept.append(entry)
            elif first != entry:
                # statika took both, and each loop moved the listener to one service's port and
                # then the other's (and deregistered the host for the one without a task here).
                raise ValueError(
                    f"load balancer {entry.loadBalancerName!r} is given to both {first.label!r} and "
                    f"{entry.label!r}: a Classic ELB has one instance port, so one service each; give each "
                    f"service its own load balancer, or remove one of the two entries")
        self.root = kept  # the same entry written twice is one service
        return self


def parse_services(source: str, raw: bytes) -> list[ServiceEntry]:
    services: ServiceList = parse_json_document(source, raw, ServiceList, fold_case=True)
    return services.root


def parse_config(source: str, raw: bytes) -> LbSyncConfig:
    config: LbSyncConfig = parse_json_document(source, raw, LbSyncConfig, fold_case=True)
    return config

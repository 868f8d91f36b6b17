"""The fleet controller's pass: observe (stacks, groups, cluster snapshot, services), plan, apply."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..aws import Clients, describe_in_batches, paginate
from ..runner import PassReport
from ..snapshot import SnapshotReader
from .actions import describe
from .apply import apply
from .capacity import TaskSize
from .events import Inbox
from .observe import FleetWorld, read_world
from .plan import Observation, Options, Plan, ServiceState, plan
from .schema import Infra

DESCRIBE_SERVICES_MAX = 10


def read_services(clients: Clients, cluster: str, reader: SnapshotReader) -> tuple[ServiceState, ...]:
    ecs = clients("ecs")
    arns = paginate(ecs, "list_services", "serviceArns", cluster=cluster)
    docs = describe_in_batches(arns, DESCRIBE_SERVICES_MAX, lambda batch: ecs.describe_services(
        cluster=cluster, services=list(batch))["services"])
    services = []
    for doc in docs:
        if doc.get("status") != "ACTIVE":
            continue
        definition = reader.cache.get(ecs, doc["taskDefinition"])
        services.append(ServiceState(doc["serviceName"], int(doc.get("desiredCount", 0)),
                                     int(doc.get("runningCount", 0)), int(doc.get("pendingCount", 0)),
                                     TaskSize(definition.memory, definition.cpu)))
    return tuple(services)


@dataclass
class FleetController:
    clients: Clients
    infra: Infra
    options: Options = field(default_factory=Options)
    inbox: Inbox = field(default_factory=Inbox)
    now: Callable[[], float] = time.time
    reader: SnapshotReader | None = None
    capability: str = "fleet"
    last_world: FleetWorld | None = None

    def observe(self) -> Observation:
        reader = self.reader = self.reader or SnapshotReader(self.clients)
        world = self.last_world = read_world(self.clients, self.infra, reader)
        services = read_services(self.clients, self.infra.cluster.name, reader) if world.snapshot else ()
        return Observation(world, self.infra, services, self.inbox.pending(), self.now())

    def plan(self) -> tuple[Observation, Plan]:
        observation = self.observe()
        return observation, plan(observation, self.options)

    def reconcile(self, dry_run: bool) -> PassReport:
        observation, result = self.plan()
        outcomes = () if dry_run else tuple(apply(self.clients, self.infra.cluster.name, result.actions,
                                                  self.now))
        if not dry_run:
            drained = {o.target for o in outcomes if o.kind == "drain" and o.ok}
            snap = observation.world.snapshot
            gone = {i for i in observation.interrupted
                    if snap is None or (ci := snap.instance_by_ec2_id(i)) is None or ci.status != "ACTIVE"}
            self.inbox.done(drained | gone)
        return PassReport(
            capability=self.capability,
            dry_run=dry_run,
            planned=tuple(describe(a) for a in result.actions),
            outcomes=outcomes,
            warnings=tuple(result.warnings),
            notes=tuple(result.notes),
            gauges=dict(result.gauges),
        )

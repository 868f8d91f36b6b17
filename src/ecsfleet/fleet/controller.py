"""The fleet controller's pass: observe (stacks, groups, cluster snapshot, services), plan, apply."""

from __future__ import annotations

import time
from collections import deque
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
from .plan import LoadSample, Observation, Options, Plan, ServiceState, plan
from .scaling import RISE_LOOKBACK
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
        deployment = doc.get("deploymentConfiguration") or {}
        services.append(ServiceState(doc["serviceName"], int(doc.get("desiredCount", 0)),
                                     int(doc.get("runningCount", 0)), int(doc.get("pendingCount", 0)),
                                     TaskSize(definition.memory, definition.cpu),
                                     int(deployment.get("minimumHealthyPercent", 100)),
                                     int(deployment.get("maximumPercent", 200))))
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
    # The load trend and the last scale-out, for `scaling: placement`'s anti-flap rule.
    history: deque[LoadSample] = field(default_factory=deque)
    last_scale_out: float | None = None
    last_scale_in: float | None = None
    ami_refresh: str | None = None  # report | auto: overrides infra.yml's ec2_instances.ami_refresh

    def observe(self) -> Observation:
        reader = self.reader = self.reader or SnapshotReader(self.clients)
        world = self.last_world = read_world(self.clients, self.infra, reader)
        services = read_services(self.clients, self.infra.cluster.name, reader) if world.snapshot else ()
        now = self.now()
        self._remember(LoadSample(now, {s.name: s.desired for s in services}))
        return Observation(world, self.infra, services, self.inbox.pending(), now, tuple(self.history),
                           self.last_scale_out, self.last_scale_in)

    def _remember(self, sample: LoadSample) -> None:
        """Keep the samples the anti-flap rule reads (RISE_LOOKBACK, at least a window), and the one
        just before them."""
        self.history.append(sample)
        horizon = sample.time - max(self.infra.ec2_instances.scaling.window_seconds, RISE_LOOKBACK)
        while len(self.history) > 1 and self.history[1].time <= horizon:
            self.history.popleft()

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
            if result.scaled_out and any(o.kind == "scale" and o.ok for o in outcomes):
                self.last_scale_out = observation.now
            if any(o.kind == "drain" and o.ok and o.detail.endswith("[scale-in]") for o in outcomes):
                self.last_scale_in = observation.now
        report = PassReport(
            capability=self.capability,
            dry_run=dry_run,
            planned=tuple(describe(a) for a in result.actions),
            outcomes=outcomes,
            warnings=tuple(result.warnings),
            notes=tuple(result.notes),
            gauges=dict(result.gauges),
        )
        # Imported here: the refresh reuses the rollout's steps, and rollout imports this module.
        from .ami_refresh_run import refresh_pass
        return refresh_pass(self.clients, self.infra, observation.world, observation.now, dry_run, report,
                            self.ami_refresh)

"""The fleet controller's pass: observe (stacks, groups, cluster snapshot, services), plan, apply."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..aws import Clients, describe_in_batches, paginate
from ..runner import PassReport
from ..snapshot import SnapshotReader
from .actions import SCALE_IN, Drain, describe
from .apply import apply
from .capacity import TaskSize
from .events import Inbox
from .observe import FleetWorld, read_world
from .plan import LoadSample, Observation, Options, Plan, ServiceState, plan
from .scaling import RISE_LOOKBACK
from .scaling_memory import Memory, MemoryStore, compact, latest, resume
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
    # The load trend and the last scale-out, for `scaling: placement`'s anti-flap rule; kept
    # across processes in the cluster's scaling memory parameter (scaling_memory.py).
    history: deque[LoadSample] = field(default_factory=deque)
    last_scale_out: float | None = None
    last_scale_in: float | None = None
    memory: MemoryStore | None = None
    # Instance types' sizes as EC2 describes them, read once (observe.read_instance_sizes).
    instance_sizes: dict[str, TaskSize] = field(default_factory=dict)
    _memory_notes: list[str] = field(default_factory=list, init=False, repr=False)
    ami_refresh: str | None = None  # report | auto: overrides infra.yml's ec2_instances.ami_refresh

    def observe(self) -> Observation:
        reader = self.reader = self.reader or SnapshotReader(self.clients)
        world = self.last_world = read_world(self.clients, self.infra, reader, sizes=self.instance_sizes)
        services = read_services(self.clients, self.infra.cluster.name, reader) if world.snapshot else ()
        now = self.now()
        sample = LoadSample(now, {s.name: s.desired for s in services})
        if self._keeps_memory():
            self._resume(sample)
        self._remember(sample)
        return Observation(world, self.infra, services, self.inbox.pending(), now, tuple(self.history),
                           self.last_scale_out, self.last_scale_in)

    def _keeps_memory(self) -> bool:
        """Only the placement scaler reads the load history and the scale times."""
        return self.options.autoscaling and self.infra.scaling_mode == "placement"

    def _resume(self, sample: LoadSample) -> None:
        """Read the stored memory once (until a read succeeds) and continue from it: a fresh
        process (a restart, a `--once` pass, a Lambda invocation) then judges by what the passes
        before it saw; a daemon's own memory stays the truth."""
        store = self.memory = self.memory or MemoryStore(self.clients, self.infra.cluster.name)
        if store.loaded:
            return
        stored = store.load()
        if stored is None:
            return
        self.history = deque(resume(stored, tuple(self.history), sample))
        self.last_scale_out = latest(self.last_scale_out, stored.last_scale_out)
        self.last_scale_in = latest(self.last_scale_in, stored.last_scale_in)
        since = f", since {(sample.time - stored.samples[0].time) / 60:.0f} min ago" if stored.samples else ""
        self._memory_notes.append(f"scaling memory: continued from {store.name}: {len(stored.samples)} load "
                                  f"sample(s){since}")

    def _save_memory(self, observation: Observation, result: Plan, scaling_in: set[str]) -> None:
        """Written before the actions, with the times this plan's scale-out or scale-in will
        have: a pass cut short after the write leaves a scale time that may be a little early,
        never one that is lost (the window then only waits longer)."""
        if self.memory is None:
            return
        self.memory.save(Memory(observation.now if result.scaled_out else self.last_scale_out,
                                observation.now if scaling_in else self.last_scale_in,
                                tuple(compact(self.history))))

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
        scaling_in = {a.ec2_instance_id for a in result.actions if isinstance(a, Drain) and a.why == SCALE_IN}
        if not dry_run:
            self._save_memory(observation, result, scaling_in)
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
            if any(o.kind == "drain" and o.ok and o.target in scaling_in for o in outcomes):
                self.last_scale_in = observation.now
        notes, self._memory_notes = self._memory_notes, []
        report = PassReport(
            capability=self.capability,
            dry_run=dry_run,
            planned=tuple(describe(a) for a in result.actions),
            outcomes=outcomes,
            warnings=(*observation.world.warnings, *result.warnings,
                      *(self.memory.take_warnings() if self.memory else [])),
            notes=tuple(notes + result.notes),
            gauges=dict(result.gauges),
        )
        # Imported here: the refresh reuses the rollout's steps, and rollout imports this module.
        from .ami_refresh_run import refresh_pass
        return refresh_pass(self.clients, self.infra, observation.world, observation.now, dry_run, report,
                            self.ami_refresh)

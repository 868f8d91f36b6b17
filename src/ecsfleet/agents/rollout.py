"""One pass of agent updates over clusters: lease, observe, decide, UpdateContainerAgent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..aws import Clients, error_code, paginate
from ..errors import NotFound
from ..notify import Notifier
from ..runner import Outcome, PassReport
from ..snapshot import SnapshotReader
from .lease import Lease
from .plan import Decision, Options, decide
from .window import Window

# UpdateContainerAgent's refusals that are about the host and stay so: no version information, a
# platform AWS does not update through the API (Windows, arm64). Not ClientException: an agent that
# disconnected since the cluster was read is a problem of the cluster, and ends its pass.
HOST_REFUSALS = frozenset({"MissingVersionException", "InvalidParameterException", "UnsupportedFeatureException"})


def cluster_names(clients: Clients) -> list[str]:
    return [arn.rsplit("/", 1)[-1] for arn in paginate(clients("ecs"), "list_clusters", "clusterArns")]


@dataclass
class AgentUpdates:
    clients: Clients
    clusters: Sequence[str] | None  # None: every cluster of the account and region
    options: Options = field(default_factory=Options)
    window: Window | None = None
    lease: Lease | None = None
    notifier: Notifier = field(default_factory=lambda: Notifier(None))
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    capability: str = "agents"

    def reconcile(self, dry_run: bool) -> PassReport:
        if self.window is not None and not self.window.is_open(self.now()):
            return PassReport(self.capability, dry_run, warnings=(f"outside the window {self.window.text}: "
                                                                 "nothing updated",))
        reader = SnapshotReader(self.clients)
        planned: list[str] = []
        outcomes: list[Outcome] = []
        warnings: list[str] = []
        missing: list[str] = []
        for cluster in self.clusters or cluster_names(self.clients):
            lease_name = f"agents/{cluster}"
            try:
                if self.lease is not None and not dry_run and not self.lease.acquire(lease_name):
                    outcomes.append(Outcome("cluster", cluster, "another run holds this cluster's lease",
                                            skipped=True))
                    continue
                try:
                    # Read after taking the lease: an update another run just started shows as in flight.
                    # Agent versions and update states are on the container instances; EC2 is read
                    # only for the tag filters.
                    snap = reader.read(cluster, include_tasks=False,
                                       include_hosts=bool(self.options.include_tags or self.options.exclude_tags))
                    decision = decide(snap, self.options)
                    outcomes += self._act(decision, dry_run, planned, warnings)
                finally:
                    if self.lease is not None and not dry_run:
                        self.lease.release(lease_name)
            except Exception as error:
                # One cluster's failed call (lease, read or release) is that cluster's; the others
                # still get their pass, and an update already requested stays in the report.
                if isinstance(error, NotFound):
                    missing.append(str(error))
                outcomes.append(Outcome("cluster", cluster, "pass over this cluster failed", ok=False,
                                        error=f"{error_code(error) or type(error).__name__}: {error}"))
        if self.clusters and len(missing) == len(self.clusters):
            raise NotFound("; ".join(missing))  # nothing the user named exists: their mistake, exit 2
        return PassReport(self.capability, dry_run, tuple(planned), tuple(outcomes), tuple(warnings))

    def _act(self, decision: Decision, dry_run: bool, planned: list[str], warnings: list[str]) -> list[Outcome]:
        cluster = decision.cluster
        if decision.blocked:
            text = f"cluster {cluster} skipped: {'; '.join(decision.blocked)}"
            warnings.append(text)
            self.notifier.send(text)
            return [Outcome("cluster", cluster, "not updated this pass", ok=False, error="; ".join(decision.blocked))]
        # Hosts AWS never updates through the API: reported every pass, never a problem of the cluster.
        unsupported = [Outcome("unsupported", cluster, f"{ec2_id} in {cluster} skipped: {why}", skipped=True)
                       for ec2_id, why in decision.unsupported]
        if decision.slots == 0:
            return [Outcome("cluster", cluster, f"update rolling on {', '.join(decision.in_flight)}", skipped=True),
                    *unsupported]
        if dry_run:
            planned += [f"update the agent of {i.ec2_instance_id} in {cluster} (now {i.agent_version}), if one is "
                        "available" for i in decision.candidates[:decision.slots]]
            return unsupported
        return self._update(decision, self.clients("ecs")) + unsupported

    def _update(self, decision: Decision, ecs: Any) -> list[Outcome]:
        """UpdateContainerAgent on the candidates in turn until `slots` are accepted. A refusal
        naming the host skips that host and goes on with the next one (it must not stall the
        cluster pass after pass); any other failure ends the cluster's pass."""
        cluster = decision.cluster
        outcomes: list[Outcome] = []
        accepted = 0
        for instance in decision.candidates:
            if accepted >= decision.slots:
                break
            name = f"{instance.ec2_instance_id} in {cluster}"
            try:
                ecs.update_container_agent(cluster=cluster, containerInstance=instance.arn)
            except Exception as error:
                code = error_code(error)
                if code == "NoUpdateAvailableException":
                    # Candidates run oldest agent first: this one and every later one are current.
                    outcomes.append(Outcome("current", cluster, f"agents current from {instance.agent_version} up",
                                            skipped=True))
                    break
                if code == "UpdateInProgressException":
                    outcomes.append(Outcome("in-progress", cluster, f"an update is already rolling ({name})",
                                            skipped=True))
                    break
                if code in HOST_REFUSALS:
                    text = f"agent update of {name} refused, host skipped: {code}: {error}"
                    self.notifier.send(text)
                    outcomes.append(Outcome("refused", cluster, text, skipped=True))
                    continue
                text = f"agent update of {name} failed: {code or type(error).__name__}: {error}"
                self.notifier.send(text)
                outcomes.append(Outcome("update", cluster, name, ok=False, error=text))
                break
            accepted += 1
            self.notifier.send(f"agent update requested on {name} (from {instance.agent_version})")
            outcomes.append(Outcome("update", cluster, f"agent update requested on {name} "
                                                       f"(from {instance.agent_version})"))
        return outcomes

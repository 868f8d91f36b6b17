"""lb-sync's reconcile pass: observe (one snapshot, the load balancers), plan, apply."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..aws import Clients, error_code
from ..runner import PassReport
from ..snapshot import ClusterSnapshot, SnapshotReader
from .elb import apply, read_load_balancers
from .plan import LoadBalancer, describe, matching_tasks, plan
from .refusals import RefusedInstances
from .services import ServiceEntry


@dataclass
class LbSync:
    """One controller: per host (`ec2_instance_id` set, as statika) or for every host of the cluster."""

    clients: Clients
    cluster: str
    services: Callable[[], list[ServiceEntry]]
    ec2_instance_id: str | None = None
    reader: SnapshotReader | None = None
    config_warning: Callable[[], str | None] = lambda: None
    capability: str = "lb-sync"
    refused: RefusedInstances = field(default_factory=RefusedInstances)

    def reconcile(self, dry_run: bool) -> PassReport:
        services = self.services()
        reader = self.reader = self.reader or SnapshotReader(self.clients)
        # A Classic ELB registers instance ids: no EC2 read needed.
        snap = reader.read(self.cluster, self.ec2_instance_id, include_hosts=False)
        elb = self.clients("elb")
        load_balancers, errors = read_load_balancers(elb, [s.loadBalancerName for s in services])
        scope = {self.ec2_instance_id} if self.ec2_instance_id else {i.ec2_instance_id for i in snap.instances}
        known = self._known_elsewhere(services, snap, load_balancers, scope)
        result = plan(snap, services, load_balancers, scope, known)
        # An instance ELB refused is not retried every pass (see refusals.py).
        actions, held = self.refused.hold_back(result.actions)
        applied = None if dry_run else apply(elb, actions)
        if applied is not None:
            self.refused.record(applied.refused)
        warning = self.config_warning()
        return PassReport(
            capability=self.capability,
            dry_run=dry_run,
            planned=tuple(describe(a) for a in actions),
            outcomes=() if applied is None else tuple(applied.outcomes),
            warnings=result.warnings + held + ((warning,) if warning else ()),
            errors=tuple(errors),
        )

    def _known_elsewhere(self, services: Sequence[ServiceEntry], snap: ClusterSnapshot,
                         load_balancers: Mapping[str, LoadBalancer], scope: set[str]) -> set[str]:
        """The entries (by load balancer) with no task in the snapshot whose name still means
        something: a task family, or an ECS service with tasks running elsewhere or recently
        stopped (scaled to zero). Their hosts leave the load balancer; an entry whose name means
        nothing is a mistake, and its hosts stay (see plan_service). Asked only when a host in
        scope is registered and no task matches, so a converged pass makes no such call."""
        ecs = self.clients("ecs")
        known: set[str] = set()
        for entry in services:
            lb = load_balancers.get(entry.loadBalancerName)
            if lb is None or not (lb.instances & scope) or matching_tasks(snap, entry)[0]:
                continue
            if _is_family(ecs, entry.family or entry.serviceName or "") or (
                    not entry.family and _service_has_tasks(ecs, self.cluster, entry.serviceName or "")):
                known.add(entry.loadBalancerName)
        return known


def _is_family(ecs: Any, family: str) -> bool:
    try:
        ecs.describe_task_definition(taskDefinition=family)
        return True
    except Exception as error:
        if error_code(error) in ("ClientException", "InvalidParameterException"):
            return False
        raise


def _service_has_tasks(ecs: Any, cluster: str, service: str) -> bool:
    """Running or stopped in the last hour (ECS keeps stopped tasks that long): a service that
    was just scaled to zero still counts."""
    for status in ("RUNNING", "STOPPED"):
        try:
            if ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus=status, maxResults=1)["taskArns"]:
                return True
        except Exception as error:
            if error_code(error) in ("ServiceNotFoundException", "InvalidParameterException"):
                return False
            raise
    return False

"""lb-sync's reconcile pass: observe (one snapshot, the load balancers), plan, apply."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..aws import Clients
from ..runner import PassReport
from ..snapshot import SnapshotReader
from .elb import apply, read_load_balancers
from .plan import describe, plan
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
        result = plan(snap, services, load_balancers, scope)
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

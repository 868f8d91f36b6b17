"""Everything the sandbox reads from or writes to moto's in-process backends, in one place,
so a moto upgrade touches one file."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .ecs import Ec2Facts
from .ecs_model import ACCOUNT_ID


def ec2_facts(region: str) -> list[Ec2Facts]:
    from moto.ec2.models import ec2_backends

    facts = []
    for instance in ec2_backends[ACCOUNT_ID][region].all_instances():
        user_data = instance.user_data
        if isinstance(user_data, list):  # some moto paths keep a one-element list
            user_data = user_data[0] if user_data else ""
        facts.append(
            Ec2Facts(
                instance_id=instance.id,
                state=instance._state.name,
                instance_type=instance.instance_type,
                image_id=instance.image_id,
                availability_zone=instance.placement.zone or f"{region}a",
                private_ip=instance.private_ip,
                public_ip=instance.public_ip,
                user_data=str(user_data or ""),
            )
        )
    return facts


def terminate_instance(region: str, instance_id: str) -> None:
    from moto.ec2.models import ec2_backends

    ec2_backends[ACCOUNT_ID][region].terminate_instances([instance_id])


def put_event(region: str, detail_type: str, source: str, resources: list[str], detail: dict[str, Any],
              at: float) -> None:
    from moto.events.models import events_backends

    backend = events_backends[ACCOUNT_ID][region]
    if not any(bus.rules for bus in backend.event_buses.values()):
        return  # nobody listens: skip the JSON work
    backend.put_events([
        {
            "Source": source,
            "DetailType": detail_type,
            "Resources": resources,
            "Detail": json.dumps(detail),
            # moto's default input template writes `time` unquoted: it must be a number.
            "Time": at,
        }
    ])


def reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


ClusterHook = tuple[Callable[[str, str], None], Callable[[str, str], None]]
# moto's state is per process; the sandbox started last (and not yet stopped) receives the hooks.
_cluster_hooks: list[ClusterHook] = []


def route_ecs_clusters(hook: ClusterHook) -> None:
    """Clusters that CloudFormation creates in moto's ECS must exist in the sandbox's ECS too."""
    from moto.ecs.models import EC2ContainerServiceBackend

    _cluster_hooks.append(hook)
    backend: Any = EC2ContainerServiceBackend
    if hasattr(backend, "_sandbox_original_create"):
        return
    create = backend._sandbox_original_create = backend.create_cluster
    delete = backend._sandbox_original_delete = backend.delete_cluster

    def create_cluster(self: Any, cluster_name: str, *args: Any, **kwargs: Any) -> Any:
        cluster = create(self, cluster_name, *args, **kwargs)
        if _cluster_hooks:
            _cluster_hooks[-1][0](self.region_name, cluster.name)
        return cluster

    def delete_cluster(self: Any, cluster_str: str) -> Any:
        cluster = delete(self, cluster_str)
        if _cluster_hooks:
            _cluster_hooks[-1][1](self.region_name, cluster.name)
        return cluster

    backend.create_cluster = create_cluster
    backend.delete_cluster = delete_cluster


def unroute_ecs_clusters(hook: ClusterHook) -> None:
    if hook in _cluster_hooks:
        _cluster_hooks.remove(hook)


def patch_moto_elb() -> None:
    """moto keeps backend-server policies only for the instance ports a load balancer was created
    with, and silently drops SetLoadBalancerPoliciesForBackendServer for any other port; AWS takes
    any instance port (lb-sync moves listeners to new ports, and their policies with them)."""
    from moto.elb.models import FakeBackend
    from moto.elb.responses import ELBResponse

    response: Any = ELBResponse
    if hasattr(response, "_sandbox_original_backend_policies"):
        return
    original = response._sandbox_original_backend_policies = response.set_load_balancer_policies_for_backend_server

    def set_policies(self: Any) -> Any:
        balancer = self.elb_backend.get_load_balancer(self._get_param("LoadBalancerName"))
        port = self._get_int_param("InstancePort")
        if balancer is not None and not any(int(b.instance_port) == port for b in balancer.backends):
            balancer.backends.append(FakeBackend(instance_port=str(port)))
        return original(self)

    response.set_load_balancer_policies_for_backend_server = set_policies


def moto_app() -> Callable[..., Any]:
    """moto's server as a WSGI app, with the sandbox's corrections to moto applied."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    patch_moto_elb()

    app: Callable[..., Any] = DomainDispatcherApplication(create_backend_app)
    return app


def request_handler() -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    return MotoRequestHandler

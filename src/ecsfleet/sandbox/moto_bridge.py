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
    _keep_instance_protocol()
    _register_once()
    _delete_every_named_listener()


def _keep_instance_protocol() -> None:
    """moto drops a listener's InstanceProtocol and reports its front-end Protocol instead: an
    HTTPS listener sending HTTP to its instances reads back as HTTPS to HTTPS, and a controller
    that re-creates it from what it read asks for something else. Keep what was asked."""
    from moto.elb.models import ELBBackend, FakeListener

    listener: Any = FakeListener
    if hasattr(listener, "_sandbox_instance_protocol"):
        return
    listener._sandbox_instance_protocol = True
    listener.instance_protocol = property(lambda self: self.__dict__.get("_instance_protocol") or self.protocol)
    backend: Any = ELBBackend
    create, add = backend.create_load_balancer, backend.create_load_balancer_listeners

    def remember(balancer: Any, ports: list[dict[str, Any]]) -> None:
        for port in ports:
            wanted = port.get("InstanceProtocol") or port.get("instance_protocol")
            lb_port = int(port.get("LoadBalancerPort") or port.get("load_balancer_port") or 0)
            for item in balancer.listeners if balancer is not None and wanted else ():
                if int(item.load_balancer_port) == lb_port and "_instance_protocol" not in item.__dict__:
                    item._instance_protocol = str(wanted).upper()

    def create_load_balancer(self: Any, name: str, zones: Any, ports: list[dict[str, Any]], *args: Any,
                             **kwargs: Any) -> Any:
        balancer = create(self, name, zones, ports, *args, **kwargs)
        remember(balancer, ports)
        return balancer

    def create_load_balancer_listeners(self: Any, name: str, ports: list[dict[str, Any]]) -> Any:
        balancer = add(self, name, ports)
        remember(balancer, ports)
        return balancer

    backend.create_load_balancer = create_load_balancer
    backend.create_load_balancer_listeners = create_load_balancer_listeners


def _register_once() -> None:
    """moto appends an instance id each time it is registered, so one registered twice is listed
    twice in DescribeLoadBalancers; AWS registers an instance once, and registering it again
    changes nothing."""
    from moto.elb.models import ELBBackend

    backend: Any = ELBBackend
    if hasattr(backend, "_sandbox_register_once"):
        return
    register = backend._sandbox_register_once = backend.register_instances

    def register_instances(self: Any, load_balancer_name: str, instance_ids: Any, from_autoscaling: bool = False
                           ) -> Any:
        balancer = self.get_load_balancer(load_balancer_name)
        known = set(balancer.instance_ids) if balancer is not None else set()
        fresh = list(dict.fromkeys(i for i in instance_ids if i not in known))
        return register(self, load_balancer_name, fresh, from_autoscaling)

    backend.register_instances = register_instances


def _delete_every_named_listener() -> None:
    """moto's DeleteLoadBalancerListeners rebuilds the listener list once per named port, so with
    two ports each listener is kept (and doubled) by the pass for the other port; AWS deletes the
    listener of every named port."""
    from moto.elb.models import ELBBackend

    backend: Any = ELBBackend
    if hasattr(backend, "_sandbox_delete_listeners"):
        return
    backend._sandbox_delete_listeners = True

    def delete_load_balancer_listeners(self: Any, name: str, ports: list[Any]) -> Any:
        balancer = self.get_load_balancer(name)
        if balancer is not None:
            doomed = {int(p) for p in ports}
            balancer.listeners = [item for item in balancer.listeners if int(item.load_balancer_port) not in doomed]
        return balancer

    backend.delete_load_balancer_listeners = delete_load_balancer_listeners


def patch_moto_events() -> None:
    """On AWS a rule with a ScheduleExpression and no EventPattern never matches an event; moto's
    matches every event (and then fails on a Lambda target, which would stop the ECS events of
    every other rule too)."""
    from moto.events.models import Rule

    rule: Any = Rule
    if hasattr(rule, "_sandbox_original_send"):
        return
    send = rule._sandbox_original_send = rule.send_to_targets

    def send_unless_scheduled(self: Any, *args: Any, **kwargs: Any) -> None:
        if self.scheduled_expression and not self.event_pattern.get_pattern():
            return
        send(self, *args, **kwargs)

    rule.send_to_targets = send_unless_scheduled


def moto_app() -> Callable[..., Any]:
    """moto's server as a WSGI app, with the sandbox's corrections to moto applied."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    patch_moto_elb()
    patch_moto_events()

    app: Callable[..., Any] = DomainDispatcherApplication(create_backend_app)
    return app


def request_handler() -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    return MotoRequestHandler

"""The ECS JSON API of the sandbox: request parameters in, response documents out."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from .ecs import EcsRegion
from .ecs_model import (
    ContainerInstance,
    EcsError,
    Service,
    Task,
    TaskDefinition,
    invalid,
)

Params = dict[str, Any]
Document = dict[str, Any]


def _resources(ci: ContainerInstance, remaining: bool) -> list[Document]:
    cpu = ci.remaining_cpu if remaining else ci.registered_cpu
    memory = ci.remaining_memory if remaining else ci.registered_memory
    ports = sorted({22, 2375, 2376, 51678, 51679} | (ci.used_ports if remaining else set()))
    return [
        {"name": "CPU", "type": "INTEGER", "doubleValue": 0.0, "longValue": 0, "integerValue": cpu},
        {"name": "MEMORY", "type": "INTEGER", "doubleValue": 0.0, "longValue": 0, "integerValue": memory},
        {"name": "PORTS", "type": "STRINGSET", "doubleValue": 0.0, "longValue": 0, "integerValue": 0,
         "stringSetValue": [str(p) for p in ports]},
        {"name": "PORTS_UDP", "type": "STRINGSET", "doubleValue": 0.0, "longValue": 0, "integerValue": 0,
         "stringSetValue": []},
    ]


def _version_info(ci: ContainerInstance) -> Document:
    if ci.agent_hash is None:
        return {}
    return {"agentVersion": ci.agent_version, "agentHash": ci.agent_hash, "dockerVersion": ci.docker_version}


def render_instance(region: EcsRegion, ci: ContainerInstance) -> Document:
    tasks = [region.tasks[a] for a in ci.task_arns if a in region.tasks]
    doc: Document = {
        "containerInstanceArn": ci.arn,
        "ec2InstanceId": ci.ec2_instance_id,
        "version": ci.version,
        "versionInfo": _version_info(ci),
        "remainingResources": _resources(ci, remaining=True),
        "registeredResources": _resources(ci, remaining=False),
        "status": ci.status,
        "agentConnected": ci.agent_connected,
        "runningTasksCount": sum(1 for t in tasks if t.last_status == "RUNNING"),
        "pendingTasksCount": sum(1 for t in tasks if t.last_status == "PENDING"),
        "attributes": [{"name": k, "value": v} for k, v in ci.attributes.items()],
        "registeredAt": ci.registered_at,
        "tags": ci.tags,
    }
    if ci.agent_update_status:
        doc["agentUpdateStatus"] = ci.agent_update_status
    if ci.status_reason:
        doc["statusReason"] = ci.status_reason
    return doc


def render_task(region: EcsRegion, task: Task) -> Document:
    cluster_arn = region.arn("cluster", task.cluster)
    doc: Document = {
        "taskArn": task.arn,
        "clusterArn": cluster_arn,
        "taskDefinitionArn": task.task_definition.arn,
        "containerInstanceArn": task.container_instance_arn,
        "overrides": task.overrides or {"containerOverrides": []},
        "lastStatus": task.last_status,
        "desiredStatus": task.desired_status,
        "cpu": str(task.cpu),
        "memory": str(task.memory),
        "containers": [
            {
                "containerArn": c.arn,
                "taskArn": task.arn,
                "name": c.name,
                "image": c.image,
                "lastStatus": c.last_status,
                "networkBindings": c.bindings if c.last_status == "RUNNING" else [],
                "networkInterfaces": [],
                "cpu": str(c.cpu),
                **({"memory": str(c.memory)} if c.memory else {}),
                **({"memoryReservation": str(c.memory_reservation)} if c.memory_reservation else {}),
                **({"exitCode": c.exit_code} if c.exit_code is not None else {}),
                **({"reason": c.reason} if c.reason else {}),
                **({"healthStatus": c.health_status} if c.health_status else {}),
            }
            for c in task.containers
        ],
        "startedBy": task.started_by,
        "version": task.version,
        "createdAt": task.created_at,
        "group": task.group,
        "launchType": "EC2",
        "healthStatus": task.health_status,
        "connectivity": "CONNECTED" if task.last_status == "RUNNING" else "DISCONNECTED",
        "tags": task.tags,
        "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}],
    }
    optional = {
        "availabilityZone": task.availability_zone,
        "startedAt": task.started_at,
        "stoppingAt": task.stopping_at,
        "stoppedAt": task.stopped_at,
        "stoppedReason": task.stopped_reason,
        "stopCode": task.stop_code,
    }
    doc.update({k: v for k, v in optional.items() if v is not None})
    return doc


def render_task_definition(td: TaskDefinition) -> Document:
    doc: Document = {
        **td.extra,
        "taskDefinitionArn": td.arn,
        "family": td.family,
        "revision": td.revision,
        "containerDefinitions": td.container_definitions,
        "networkMode": td.network_mode,
        "status": td.status,
        "compatibilities": ["EXTERNAL", "EC2"],
        "requiresAttributes": [],
        "registeredAt": td.registered_at,
        "volumes": td.extra.get("volumes", []),
        "placementConstraints": td.extra.get("placementConstraints", []),
    }
    if td.cpu:
        doc["cpu"] = td.cpu
    if td.memory:
        doc["memory"] = td.memory
    return doc


def render_service(region: EcsRegion, svc: Service) -> Document:
    tasks = region.service_tasks(svc)
    deployments = []
    for d in svc.deployments:
        mine = [t for t in tasks if t.deployment_id == d.id]
        deployments.append({
            "id": f"ecs-svc/{d.id}",
            "status": d.status,
            "taskDefinition": d.task_definition_arn,
            "desiredCount": svc.desired_count if d.status == "PRIMARY" else 0,
            "runningCount": sum(1 for t in mine if t.last_status == "RUNNING"),
            "pendingCount": sum(1 for t in mine if t.last_status == "PENDING"),
            "failedTasks": 0,
            "createdAt": d.created_at,
            "updatedAt": d.updated_at,
            "launchType": svc.launch_type,
            "rolloutState": d.rollout_state,
        })
    return {
        "serviceArn": svc.arn,
        "serviceName": svc.name,
        "clusterArn": region.arn("cluster", svc.cluster),
        "loadBalancers": svc.load_balancers,
        "serviceRegistries": [],
        "status": svc.status,
        "desiredCount": svc.desired_count,
        "runningCount": sum(1 for t in tasks if t.last_status == "RUNNING"),
        "pendingCount": sum(1 for t in tasks if t.last_status == "PENDING"),
        "launchType": svc.launch_type,
        "taskDefinition": svc.task_definition_arn,
        "deploymentConfiguration": {
            "maximumPercent": svc.maximum_percent,
            "minimumHealthyPercent": svc.minimum_healthy_percent,
        },
        "deployments": deployments,
        "events": svc.events,
        "createdAt": svc.created_at,
        "placementConstraints": svc.placement_constraints,
        "placementStrategy": svc.placement_strategy,
        "schedulingStrategy": "REPLICA",
        "tags": svc.tags,
    }


def iso_times(doc: Any) -> Any:
    """EventBridge details carry ISO timestamps where the API carries epoch numbers. Every task
    change is rendered so: it recurses into containers only, not into every value."""
    if isinstance(doc, dict):
        return {
            k: (dt.datetime.fromtimestamp(v, dt.UTC).isoformat().replace("+00:00", "Z")
                if isinstance(v, float) and k.endswith("At")
                else iso_times(v) if isinstance(v, dict | list) else v)
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [iso_times(v) if isinstance(v, dict | list) else v for v in doc]
    return doc


def _page(items: Sequence[str], params: Params, key: str, default_max: int = 100) -> Document:
    limit = int(params.get("maxResults") or default_max)  # 1..100: the rules layer refuses others
    token = params.get("nextToken")
    start = int(base64.b64decode(token).decode()) if token else 0
    result: Document = {key: list(items[start:start + limit])}
    if start + limit < len(items):
        result["nextToken"] = base64.b64encode(str(start + limit).encode()).decode()
    return result


def _refs(params: Params, key: str) -> list[Any]:
    """A batch of references; its size limits are refused by the rules layer (sandbox/rules/ecs.py)."""
    return list(params.get(key) or [])


class EcsApi:
    """One method per ECS operation, named as botocore names the operation."""

    def __init__(self, region_for: Callable[[str], EcsRegion]) -> None:
        self._region_for = region_for

    def call(self, region: str, operation: str, params: Params) -> Document:
        handler = getattr(self, operation, None)
        if handler is None or operation.startswith("_") or operation == "call":
            raise EcsError("UnknownOperationException", f"The sandbox does not implement {operation}.")
        result: Document = handler(self._region_for(region), params)
        return result

    # clusters -----------------------------------------------------------------------------

    def CreateCluster(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.create_cluster(p.get("clusterName") or "default", p.get("tags"))
        return {"cluster": self._cluster_doc(r, cluster.name)}

    def DeleteCluster(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.delete_cluster(p["cluster"])
        return {"cluster": self._cluster_doc(r, cluster.name)}

    def ListClusters(self, r: EcsRegion, p: Params) -> Document:
        arns = [c.arn for c in r.clusters.values() if c.status == "ACTIVE"]
        return _page(arns, p, "clusterArns")

    def DescribeClusters(self, r: EcsRegion, p: Params) -> Document:
        clusters, failures = [], []
        for ref in p.get("clusters") or ["default"]:
            try:
                clusters.append(self._cluster_doc(r, r.cluster(ref).name))
            except EcsError:
                failures.append({"arn": ref if ref.startswith("arn:") else r.arn("cluster", ref),
                                 "reason": "MISSING"})
        return {"clusters": clusters, "failures": failures}

    def _cluster_doc(self, r: EcsRegion, name: str) -> Document:
        cluster = r.clusters[name]
        tasks = r.cluster_tasks(name)
        return {
            "clusterArn": cluster.arn,
            "clusterName": cluster.name,
            "status": cluster.status,
            "registeredContainerInstancesCount": len(r.cluster_instances(name)),
            "runningTasksCount": sum(1 for t in tasks if t.last_status == "RUNNING"),
            "pendingTasksCount": sum(1 for t in tasks if t.last_status == "PENDING"),
            "activeServicesCount": sum(1 for s in r.cluster_services(name) if s.status == "ACTIVE"),
            "settings": [{"name": "containerInsights", "value": "disabled"}],
            "tags": cluster.tags,
        }

    # task definitions ---------------------------------------------------------------------

    def RegisterTaskDefinition(self, r: EcsRegion, p: Params) -> Document:
        td = r.register_task_definition(p.get("family", ""), p)
        return {"taskDefinition": render_task_definition(td), "tags": p.get("tags", [])}

    def DescribeTaskDefinition(self, r: EcsRegion, p: Params) -> Document:
        td = r.task_definition(p["taskDefinition"])
        return {"taskDefinition": render_task_definition(td), "tags": r.resource_tags.get(td.arn, [])}

    def DeregisterTaskDefinition(self, r: EcsRegion, p: Params) -> Document:
        td = r.task_definition(p["taskDefinition"])
        td.status = "INACTIVE"
        return {"taskDefinition": render_task_definition(td)}

    def ListTaskDefinitions(self, r: EcsRegion, p: Params) -> Document:
        status = p.get("status", "ACTIVE")
        arns = [
            td.arn
            for family, revisions in sorted(r.task_definitions.items())
            if family.startswith(p.get("familyPrefix") or "")
            for td in revisions
            if td.status == status
        ]
        if p.get("sort") == "DESC":
            arns.reverse()
        return _page(arns, p, "taskDefinitionArns")

    def ListTaskDefinitionFamilies(self, r: EcsRegion, p: Params) -> Document:
        families = sorted(f for f in r.task_definitions if f.startswith(p.get("familyPrefix") or ""))
        return _page(families, p, "families")

    # container instances ------------------------------------------------------------------

    def RegisterContainerInstance(self, r: EcsRegion, p: Params) -> Document:
        import json

        cluster = r.cluster(p.get("cluster"))
        identity = json.loads(p.get("instanceIdentityDocument") or "{}")
        instance_id = identity.get("instanceId")
        facts = r.ec2_facts(instance_id) if instance_id else None
        if facts is None:
            raise invalid("instanceIdentityDocument must name a running EC2 instance of the sandbox.")
        attributes = {a["name"]: a.get("value", "") for a in p.get("attributes") or []}
        ci = r.register_instance(cluster, facts, attributes)
        return {"containerInstance": render_instance(r, ci)}

    def DeregisterContainerInstance(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        ci = r.instance(cluster, p["containerInstance"])
        r.deregister_instance(ci, bool(p.get("force")), "Container instance deregistered.")
        return {"containerInstance": render_instance(r, ci)}

    def ListContainerInstances(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        return _page(r.instance_listing(cluster.name, p.get("status"), p.get("filter")), p, "containerInstanceArns")

    def DescribeContainerInstances(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        found, failures = [], []
        for ref in _refs(p, "containerInstances"):
            try:
                found.append(render_instance(r, r.instance(cluster, ref)))
            except EcsError:
                failures.append({"arn": ref, "reason": "MISSING"})
        return {"containerInstances": found, "failures": failures}

    def UpdateContainerInstancesState(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        found, failures = [], []
        for ref in _refs(p, "containerInstances"):
            try:
                ci = r.instance(cluster, ref)
            except EcsError:
                failures.append({"arn": ref, "reason": "MISSING"})
                continue
            if ci.status == "INACTIVE":
                # Deregistered: still described for a while, but never drained or reactivated.
                failures.append({"arn": ci.arn, "reason": "INACTIVE"})
                continue
            r.set_instance_state(ci, p["status"])
            found.append(render_instance(r, ci))
        return {"containerInstances": found, "failures": failures}

    def UpdateContainerAgent(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        ci = r.instance(cluster, p["containerInstance"])
        r.update_agent(ci)
        return {"containerInstance": render_instance(r, ci)}

    def PutAttributes(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        for attribute in p.get("attributes") or []:
            ci = r.instance(cluster, attribute.get("targetId", ""))
            ci.attributes[attribute["name"]] = attribute.get("value", "")
            r.attributes_changed(ci)
        return {"attributes": p.get("attributes") or []}

    def DeleteAttributes(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        for attribute in p.get("attributes") or []:
            ci = r.instance(cluster, attribute.get("targetId", ""))
            ci.attributes.pop(attribute["name"], None)
            r.attributes_changed(ci)
        return {"attributes": p.get("attributes") or []}

    def ListAttributes(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        found = [
            {"name": name, "value": value, "targetType": "container-instance", "targetId": ci.arn}
            for ci in r.cluster_instances(cluster.name)
            for name, value in ci.attributes.items()
            if (not p.get("attributeName") or name == p["attributeName"])
            and (not p.get("attributeValue") or value == p["attributeValue"])
        ]
        return {"attributes": found}

    # tasks --------------------------------------------------------------------------------

    def RunTask(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        td = r.task_definition(p["taskDefinition"])
        count = int(p.get("count") or 1)  # 1..10, and a cluster with instances: the rules layer
        tasks, failures = r.run_task(
            cluster, td, count,
            group=p.get("group"), started_by=p.get("startedBy", ""), overrides=p.get("overrides"),
            constraints=p.get("placementConstraints"), strategy=p.get("placementStrategy"),
            tags=p.get("tags"),
        )
        return {"tasks": [render_task(r, t) for t in tasks], "failures": failures}

    def StartTask(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        td = r.task_definition(p["taskDefinition"])
        refs = _refs(p, "containerInstances")
        tasks, failures = [], []
        for ref in refs:
            ci = r.instance(cluster, ref)
            placed, failed = r.run_task(
                cluster, td, 1, group=p.get("group"), started_by=p.get("startedBy", ""),
                overrides=p.get("overrides"), instances=[ci], tags=p.get("tags"),
            )
            tasks += placed
            failures += failed
        return {"tasks": [render_task(r, t) for t in tasks], "failures": failures}

    def StopTask(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        task = r.task(cluster, p["task"])
        r.stop_task(task, p.get("reason") or "Task stopped by the user.")
        return {"task": render_task(r, task)}

    def ListTasks(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        desired = p.get("desiredStatus") or "RUNNING"
        instance_arn = r.instance(cluster, p["containerInstance"]).arn if p.get("containerInstance") else None
        service = p.get("serviceName")
        arns = r.task_listing(cluster.name, desired, instance_arn=instance_arn, family=p.get("family"),
                              service=service.rsplit("/", 1)[-1] if service else None,
                              started_by=p.get("startedBy"))
        return _page(arns, p, "taskArns")

    def DescribeTasks(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        found, failures = [], []
        for ref in _refs(p, "tasks"):
            try:
                found.append(render_task(r, r.task(cluster, ref)))
            except EcsError:
                failures.append({"arn": ref, "reason": "MISSING"})
        return {"tasks": found, "failures": failures}

    # services -----------------------------------------------------------------------------

    def CreateService(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        td = r.task_definition(p["taskDefinition"])
        svc = r.create_service(cluster, p["serviceName"], td, p)
        return {"service": render_service(r, svc)}

    def UpdateService(self, r: EcsRegion, p: Params) -> Document:
        svc = r.service(r.cluster(p.get("cluster")), p["service"])
        r.update_service(svc, p)
        return {"service": render_service(r, svc)}

    def DeleteService(self, r: EcsRegion, p: Params) -> Document:
        svc = r.service(r.cluster(p.get("cluster")), p["service"])
        r.delete_service(svc, bool(p.get("force")))
        return {"service": render_service(r, svc)}

    def DescribeServices(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        found, failures = [], []
        for ref in _refs(p, "services"):
            try:
                found.append(render_service(r, r.service(cluster, ref)))
            except EcsError:
                failures.append({"arn": ref, "reason": "MISSING"})
        return {"services": found, "failures": failures}

    def ListServices(self, r: EcsRegion, p: Params) -> Document:
        cluster = r.cluster(p.get("cluster"))
        arns = [s.arn for s in r.cluster_services(cluster.name) if s.status != "INACTIVE"]
        return _page(arns, p, "serviceArns", default_max=10)

    # tags ---------------------------------------------------------------------------------

    def TagResource(self, r: EcsRegion, p: Params) -> Document:
        tags = r.resource_tags.setdefault(p["resourceArn"], [])
        keys = {t["key"] for t in p.get("tags") or []}
        tags[:] = [t for t in tags if t["key"] not in keys] + list(p.get("tags") or [])
        return {}

    def UntagResource(self, r: EcsRegion, p: Params) -> Document:
        keys = set(p.get("tagKeys") or [])
        tags = r.resource_tags.setdefault(p["resourceArn"], [])
        tags[:] = [t for t in tags if t["key"] not in keys]
        return {}

    def ListTagsForResource(self, r: EcsRegion, p: Params) -> Document:
        return {"tags": r.resource_tags.get(p["resourceArn"], [])}

"""`ecsfleet status`: a cluster snapshot as a stable JSON document or as Rich tables."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

from .snapshot import ClusterSnapshot, ContainerInstance, Task

SCHEMA = "ecsfleet.status/v1"


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def status_document(snap: ClusterSnapshot) -> dict[str, Any]:
    """The JSON form. Keys and their meaning are documented in the README; only additions are
    made within one schema version."""
    instances = sorted(snap.instances, key=lambda i: (i.ec2_instance_id, i.arn))
    tasks = sorted(snap.tasks, key=lambda t: (t.group, t.family, t.arn))
    services: dict[str, dict[str, Any]] = {}
    for task in tasks:
        entry = services.setdefault(task.group, {"group": task.group, "service": task.service,
                                                 "taskDefinitions": [], "running": 0, "pending": 0})
        if task.task_definition_arn not in entry["taskDefinitions"]:
            entry["taskDefinitions"].append(task.task_definition_arn)
        if task.last_status == "RUNNING":
            entry["running"] += 1
        elif task.last_status == "PENDING":
            entry["pending"] += 1
    return {
        "schema": SCHEMA,
        "cluster": snap.cluster,
        "region": snap.region,
        "takenAt": _iso(snap.taken_at),
        "instances": [_instance_doc(i) for i in instances],
        "groups": list(services.values()),
        "tasks": [_task_doc(t, snap.instance(t.container_instance_arn)) for t in tasks],
    }


def _instance_doc(i: ContainerInstance) -> dict[str, Any]:
    return {
        "containerInstanceArn": i.arn,
        "ec2InstanceId": i.ec2_instance_id,
        "privateIp": i.private_ip,
        "publicIp": i.public_ip,
        "status": i.status,
        "agentConnected": i.agent_connected,
        "agentVersion": i.agent_version,
        "dockerVersion": i.docker_version,
        "agentUpdateStatus": i.agent_update_status,
        "cpu": {"registered": i.registered_cpu, "remaining": i.remaining_cpu},
        "memory": {"registered": i.registered_memory, "remaining": i.remaining_memory},
        "runningTasks": i.running_tasks,
        "pendingTasks": i.pending_tasks,
    }


def _task_doc(t: Task, host: ContainerInstance | None) -> dict[str, Any]:
    return {
        "taskArn": t.arn,
        "group": t.group,
        "service": t.service,
        "family": t.family,
        "revision": t.revision,
        "taskDefinitionArn": t.task_definition_arn,
        "lastStatus": t.last_status,
        "desiredStatus": t.desired_status,
        "healthStatus": t.health_status,
        "startedAt": _iso(t.started_at),
        "containerInstanceArn": t.container_instance_arn,
        "ec2InstanceId": host.ec2_instance_id if host else None,
        "privateIp": host.private_ip if host else None,
        "hostPorts": [
            {"container": c.name, "containerPort": b.container_port, "hostPort": b.host_port,
             "protocol": b.protocol}
            for c in t.containers
            for b in c.bindings
        ],
    }


def status_tables(snap: ClusterSnapshot) -> Group:
    doc = status_document(snap)
    instances = Table(title=f"Container instances of {snap.cluster} ({snap.region})", title_justify="left")
    for column in ("Instance", "Private IP", "Public IP", "Status", "Agent", "CPU free", "Memory free", "Tasks"):
        instances.add_column(column, justify="right" if column in ("CPU free", "Memory free", "Tasks") else "left")
    for i in doc["instances"]:
        agent = i["agentVersion"] or "?"
        if not i["agentConnected"]:
            agent += " [red](disconnected)[/]"
        elif i["agentUpdateStatus"]:
            agent += f" ({i['agentUpdateStatus'].lower()})"
        status = i["status"] if i["status"] == "ACTIVE" else f"[yellow]{i['status']}[/]"
        instances.add_row(
            i["ec2InstanceId"], i["privateIp"] or "-", i["publicIp"] or "-", status, agent,
            f"{i['cpu']['remaining']}/{i['cpu']['registered']}",
            f"{i['memory']['remaining']}/{i['memory']['registered']} MiB",
            f"{i['runningTasks']}" + (f" +{i['pendingTasks']} pending" if i["pendingTasks"] else ""),
        )
    tasks = Table(title="Tasks", title_justify="left")
    for column in ("Service / group", "Task", "Task definition", "Status", "Host ports", "Instance"):
        tasks.add_column(column)
    for t in doc["tasks"]:
        ports = ", ".join(f"{p['container']}:{p['containerPort']}->{p['hostPort']}" for p in t["hostPorts"])
        status = t["lastStatus"] if t["desiredStatus"] == t["lastStatus"] else \
            f"{t['lastStatus']} -> {t['desiredStatus']}"
        tasks.add_row(
            t["service"] or t["group"], t["taskArn"].rsplit("/", 1)[-1][:12], f"{t['family']}:{t['revision']}",
            status, ports or "-", t["ec2InstanceId"] or "-",
        )
    summary = (f"{len(doc['instances'])} instances, {len(doc['tasks'])} tasks in "
               f"{len(doc['groups'])} services/groups")
    return Group(instances, tasks, summary)

"""`fleet status`: the versions of a cluster, each with its Status, instances, container
instances and running tasks, as a Rich table or a stable JSON document (`ecsfleet.fleet-status/v1`)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

from .ami_refresh import IMAGE_PARAMETER, Drift
from .observe import Fleet, FleetWorld
from .stacks import ADOPTED_TAG

SCHEMA = "ecsfleet.fleet-status/v1"


def fleet_document(world: FleetWorld, fleet: Fleet) -> dict[str, Any]:
    members = world.members(fleet)
    tasks = world.tasks_on(fleet)
    return {
        "version": fleet.version,
        "stack": fleet.stack.name,
        "stackStatus": fleet.stack.status,
        "status": fleet.stack.fleet_status,
        "adoptedFrom": fleet.stack.tags.get(ADOPTED_TAG),  # the tool that created it, when `fleet adopt` took it
        "autoScalingGroups": [{"name": g.name, "logicalId": g.logical_id, "min": g.min_size, "max": g.max_size,
                               "desired": g.desired, "instances": [i.instance_id for i in g.instances]}
                              for g in fleet.asgs],
        "spotFleets": [{"id": f.request_id, "logicalId": f.logical_id, "state": f.state, "target": f.target,
                        "fulfilled": f.fulfilled, "instances": list(f.instance_ids)} for f in fleet.spot_fleets],
        "instances": sorted(fleet.instance_ids),
        "containerInstances": {
            "active": sum(1 for ci in members if ci.status == "ACTIVE"),
            "draining": sum(1 for ci in members if ci.status == "DRAINING"),
        },
        "runningTasks": sum(1 for t in tasks if t.last_status == "RUNNING"),
        "ami": fleet.stack.parameters.get(IMAGE_PARAMETER),  # fixed when the version was created
    }


def status_document(world: FleetWorld, drift: Drift | None = None) -> dict[str, Any]:
    """`drift`: the active version's AMI against the one infra.yml's source names now."""
    cluster = world.stacks.cluster
    return {
        "schema": SCHEMA,
        "cluster": world.cluster,
        "clusterStack": None if cluster is None else {"name": cluster.name, "status": cluster.status},
        "clusterExists": world.snapshot is not None,
        "versions": [fleet_document(world, f) for f in world.fleets],
        "foreignStacks": [s.name for s in world.stacks.foreign],
        "amiDrift": None if drift is None else {"version": drift.version, "running": drift.running,
                                                "target": drift.target, "source": drift.source},
    }


def status_tables(world: FleetWorld, drift: Drift | None = None) -> Group:
    doc = status_document(world, drift)
    stack = doc["clusterStack"]
    title = f"{world.cluster}: cluster stack " + (f"{stack['name']} {stack['status']}" if stack else "not deployed")
    table = Table(title=title, title_justify="left")
    for column in ("Version", "Status", "Stack", "EC2 instances", "Container instances", "Running tasks"):
        table.add_column(column)
    for version in doc["versions"]:
        cis = version["containerInstances"]
        adopted = f" (adopted from {version['adoptedFrom']})" if version["adoptedFrom"] else ""
        table.add_row(version["version"], version["status"] + adopted, version["stackStatus"],
                      str(len(version["instances"])),
                      f"{cis['active']} active" + (f", {cis['draining']} draining" if cis["draining"] else ""),
                      str(version["runningTasks"]))
    parts: list[Any] = [table]
    if doc["foreignStacks"]:
        parts.append(f"not managed by ecsfleet (left alone): {', '.join(doc['foreignStacks'])}; if "
                     f"ecs-cluster-deployer made them, `ecsfleet fleet adopt` takes them over")
    if drift is not None:
        parts.append(f"AMI drift: {drift.describe()} (docs/fleet.md, \"AMIs stay current\")")
    return Group(*parts)

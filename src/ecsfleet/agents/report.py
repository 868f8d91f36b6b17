"""`ecsfleet agents status`: agents, Docker and AMIs of every container instance, per cluster."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Group
from rich.table import Table

from ..snapshot import ClusterSnapshot

SCHEMA = "ecsfleet.agents-status/v1"


def status_document(snaps: Sequence[ClusterSnapshot], recommended: str | None) -> dict[str, Any]:
    clusters = []
    for snap in sorted(snaps, key=lambda s: s.cluster):
        instances = sorted(snap.instances, key=lambda i: i.ec2_instance_id)
        versions = Counter(i.agent_version or "?" for i in instances)
        clusters.append({
            "cluster": snap.cluster,
            "summary": {
                "instances": len(instances),
                "agentConnected": sum(1 for i in instances if i.agent_connected),
                "agentVersions": dict(sorted(versions.items())),
                "updating": sum(1 for i in instances if i.agent_update_status in ("PENDING", "STAGING", "STAGED",
                                                                                    "UPDATING")),
                "failed": sum(1 for i in instances if i.agent_update_status == "FAILED"),
                "onRecommendedAmi": sum(1 for i in instances if recommended and i.image_id == recommended),
            },
            "instances": [{
                "ec2InstanceId": i.ec2_instance_id,
                "containerInstanceArn": i.arn,
                "status": i.status,
                "agentConnected": i.agent_connected,
                "agentVersion": i.agent_version,
                "dockerVersion": i.docker_version,
                "agentUpdateStatus": i.agent_update_status,
                "imageId": i.image_id,
                "recommendedAmi": (i.image_id == recommended) if recommended and i.image_id else None,
            } for i in instances],
        })
    return {"schema": SCHEMA, "recommendedAmi": recommended, "clusters": clusters}


def status_tables(doc: dict[str, Any]) -> Group:
    parts: list[Any] = []
    for cluster in doc["clusters"]:
        summary = cluster["summary"]
        table = Table(title=f"{cluster['cluster']}: {summary['instances']} instances, agents "
                            f"{', '.join(f'{v} x{n}' for v, n in summary['agentVersions'].items()) or '-'}, "
                            f"{summary['onRecommendedAmi']} on the recommended AMI", title_justify="left")
        for column in ("Instance", "Status", "Agent", "Connected", "Update", "Docker", "AMI", "Recommended"):
            table.add_column(column)
        for i in cluster["instances"]:
            recommended = {True: "yes", False: "[yellow]no[/]", None: "?"}[i["recommendedAmi"]]
            table.add_row(i["ec2InstanceId"], i["status"], i["agentVersion"] or "?",
                          "yes" if i["agentConnected"] else "[red]no[/]", i["agentUpdateStatus"] or "-",
                          (i["dockerVersion"] or "?").removeprefix("DockerVersion: "), i["imageId"] or "?", recommended)
        parts.append(table)
    parts.append(f"recommended ECS-optimized AMI: {doc['recommendedAmi'] or 'unknown'}")
    return Group(*parts)

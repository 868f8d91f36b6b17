"""Shared by the benchmarks: sandbox clusters, synthetic snapshots, the AWS APIs' page sizes and
batch maxima (for the floors), the seed tools' call patterns (models computed from their
documented behaviour, not measured), timing and Markdown tables.

Not a benchmark itself: `make bench` runs only the scripts whose names do not start with `_`.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from builders import T0
from ecsfleet.dns.records import RecordKey, RecordSet, registry_key, registry_record
from ecsfleet.lbsync.services import ServiceEntry
from ecsfleet.sandbox import Sandbox
from ecsfleet.sandbox.seed import seed_cluster, web_task_definition
from ecsfleet.snapshot import ClusterSnapshot, Task, parse_container_instance, parse_task, parse_task_definition

CLUSTER = "bench"
ZONE = "bench.example.com"
OWNER = "bench"
CONTAINER_PORT = 80
INSTANCE_CPU = 8192  # m5.2xlarge

# AWS API limits the floors are computed from (the APIs' documentation, not ecsfleet's code).
ECS_LIST_PAGE = 100  # ListTasks / ListContainerInstances: maxResults at most 100
ECS_DESCRIBE_BATCH = 100  # DescribeTasks / DescribeContainerInstances: at most 100 a call
EC2_IDS_PER_CALL = 200  # DescribeInstances: at most 200 values in the instance-id filter
ELB_NAMES_PER_CALL = 20  # DescribeLoadBalancers: at most 20 names a call
R53_ZONES_PAGE = 100  # ListHostedZones: MaxItems at most 100
R53_RECORDS_PAGE = 300  # ListResourceRecordSets: MaxItems at most 300
R53_RECORD_SETS_PER_ZONE_BASE = 2  # every zone holds its SOA and NS


# ---- floors: the fewest list/describe calls that can see a state ----------------------------

def list_pages(items: int, page: int) -> int:
    """A list call costs one page even when it finds nothing."""
    return max(1, math.ceil(items / page))


def describe_calls(items: int, batch: int) -> int:
    return math.ceil(items / batch)


def ecs_floor(instances: int, tasks: int, addresses: bool) -> int:
    """Container instances and tasks (listed, then described), and the hosts' EC2 addresses
    when the capability needs them."""
    calls = list_pages(instances, ECS_LIST_PAGE) + describe_calls(instances, ECS_DESCRIBE_BATCH)
    calls += list_pages(tasks, ECS_LIST_PAGE) + describe_calls(tasks, ECS_DESCRIBE_BATCH)
    return calls + (describe_calls(instances, EC2_IDS_PER_CALL) if addresses else 0)


def lbsync_floor(instances: int, tasks: int, load_balancers: int) -> int:
    """lb-sync needs EC2 instance ids (DescribeContainerInstances has them), never addresses; and,
    beside each load balancer's listeners, its tags, where an interrupted listener move is recorded
    (DescribeTags takes as many names a call as DescribeLoadBalancers)."""
    return ecs_floor(instances, tasks, addresses=False) + 2 * describe_calls(load_balancers, ELB_NAMES_PER_CALL)


def dns_floor(instances: int, tasks: int, zones: int, record_sets_per_zone: int) -> int:
    """dns-sync needs the hosts' addresses and host names, the zones and their record sets."""
    records = list_pages(record_sets_per_zone + R53_RECORD_SETS_PER_ZONE_BASE, R53_RECORDS_PAGE)
    return ecs_floor(instances, tasks, addresses=True) + list_pages(zones, R53_ZONES_PAGE) + zones * records


def agents_floor(instances: int) -> int:
    """Agent versions and update states are on the container instances; tasks are not needed."""
    return list_pages(instances, ECS_LIST_PAGE) + describe_calls(instances, ECS_DESCRIBE_BATCH)


# ---- the seeds' call patterns: computed from DESIGN.md's reading of their source -------------

def statika_calls_per_loop(hosts: int, services: int) -> int:
    """One statika per host, each loop: ListTasks and DescribeTasks for its host, then per
    service DescribeLoadBalancers and ListTasks (family on this host)."""
    return hosts * (2 + 2 * services)


def ecsd_calls(container_events: int) -> int:
    """One Route53 ChangeResourceRecordSets per container start or removal; nothing otherwise,
    so nothing repairs a missed event either."""
    return container_events


@dataclass(frozen=True)
class EcstaticRun:
    reads: int
    writes: int  # UpdateContainerAgent calls (accepted or refused)
    instances_seen: int


def ecstatic_run(instances: int, agents_current: bool) -> EcstaticRun:
    """ListClusters, then DescribeClusters, ListContainerInstances and DescribeContainerInstances,
    first page only (at most 100 instances: the rest are never seen). UpdateContainerAgent per
    instance in order: refused (no update) -> next instance; accepted -> the run ends."""
    seen = min(instances, ECS_LIST_PAGE)
    return EcstaticRun(reads=4, writes=seen if agents_current else 1, instances_seen=seen)


# ---- sandbox worlds -----------------------------------------------------------------------------

@dataclass(frozen=True)
class World:
    tasks: int
    instances: int
    zone_id: str
    families: tuple[str, ...]
    subnet_id: str = ""  # the hosts' subnet, where the load balancers are
    instance_ids: tuple[str, ...] = ()

    @property
    def services(self) -> list[ServiceEntry]:
        """lb-sync's services file: one Classic ELB per family, matched by family as statika does."""
        return [ServiceEntry(serviceName=f, family=f, exposedContainerName=f, loadBalancerName=f"{f}-lb")
                for f in self.families]


def services_for(tasks: int) -> int:
    """At most 200 tasks a service, so no name needs more than Route53's 400 values a record set."""
    return max(5, math.ceil(tasks / 200))


def task_definition(family: str, cpu: int, stop_timeout: int | None = None) -> dict[str, Any]:
    """A web container on a dynamic host port that publishes `_<family>._tcp.<zone>` (SRV) and
    `<family>.<zone>` (A, private IP), as ecsd's users write it."""
    body = web_task_definition(family, CONTAINER_PORT, ZONE)
    container = body["containerDefinitions"][0]
    container["cpu"] = cpu
    if stop_timeout is not None:
        container["stopTimeout"] = stop_timeout
    return body


def build_world(sb: Sandbox, tasks: int, instances: int) -> World:
    """A cluster of `instances` m5.2xlarge hosts running `tasks` tasks of `services_for(tasks)`
    ECS services, spread evenly (the sandbox's bulk seeding, `seed_cluster`), each service behind
    its own Classic ELB and publishing DNS names in one hosted zone."""
    sb.reset()
    os.environ.update(sb.env())
    # Just too big for one more task a host, and room left for a small task on every host.
    cpu = int(INSTANCE_CPU / (math.ceil(tasks / instances) + 0.5))
    seeded = seed_cluster(sb, CLUSTER, instances, tasks, services_for(tasks), instance_type="m5.2xlarge",
                          task_definition=lambda family: task_definition(family, cpu))
    elb = sb.client("elb")
    for family in seeded.services:
        elb.create_load_balancer(LoadBalancerName=f"{family}-lb", Subnets=[seeded.subnet_id], Listeners=[
            {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}])
    zone = sb.client("route53").create_hosted_zone(Name=ZONE, CallerReference=f"bench-{time.monotonic_ns()}")
    return World(tasks, instances, zone["HostedZone"]["Id"].rsplit("/", 1)[-1], seeded.services,
                 seeded.subnet_id, seeded.instance_ids)


class ServedTime:
    """Wall time the sandbox (running in this process) spends serving each call: its rules, its
    emulation or moto, and the response, apart from the client's own work. Wraps the server's
    WSGI application; `reset` with the sandbox's call counter, so the calls and times line up."""

    def __init__(self, sb: Sandbox) -> None:
        self._sb = sb
        server: Any = sb._server  # the benchmark measures the sandbox itself
        self._app = server.app
        server.app = self._timed
        self._seconds: list[float] = []

    def _timed(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        try:
            return self._app(environ, start_response)  # the sandbox's responses are lists, served whole
        finally:
            self._seconds.append(time.perf_counter() - started)

    def reset(self) -> None:
        self._sb.reset_calls()
        self._seconds.clear()

    def per_call_ms(self) -> dict[tuple[str, str], float]:
        """Mean milliseconds per call of each (service, operation) since the last reset."""
        calls = self._sb.call_sequence()
        if len(calls) != len(self._seconds):
            raise RuntimeError(f"{len(calls)} calls counted but {len(self._seconds)} requests timed")
        total: dict[tuple[str, str], list[float]] = {}
        for call, seconds in zip(calls, self._seconds, strict=True):
            total.setdefault(call, []).append(seconds)
        return {call: 1000 * sum(times) / len(times) for call, times in total.items()}

    def slowest(self) -> tuple[float, str]:
        """The slowest call since the last reset: milliseconds and its operation."""
        if not self._seconds:
            return 0.0, ""
        seconds, (_, operation) = max(zip(self._seconds, self._sb.call_sequence(), strict=True))
        return 1000 * seconds, operation


def is_read(operation: str) -> bool:
    return operation.startswith(("List", "Describe", "Get"))


def reads_and_writes(sb: Sandbox) -> tuple[int, int]:
    """Calls the sandbox served since the last reset, split into reads and writes."""
    calls = sb.calls()
    reads = sum(n for (_, op), n in calls.items() if is_read(op))
    return reads, sum(calls.values()) - reads


# ---- synthetic snapshots (no sandbox: for the pure planners) -----------------------------------

def synthetic_snapshot(tasks: int, instances: int, services: int, dynamic_ports: bool = False) -> ClusterSnapshot:
    """`tasks` running tasks, `tasks // instances` a host on distinct host ports, of `services`
    families each publishing an SRV and an A name. Built as a pass reads a cluster: from the
    documents DescribeContainerInstances, EC2 DescribeInstances and DescribeTasks answer, each
    decoded from its own JSON (a new string for every value, as botocore gives them) and parsed by
    the snapshot's own parser, so the objects and their memory are those a controller holds.

    A service's tasks bind one host port on every host (a port by slot on the host), so the
    parser gives them one container object; with `dynamic_ports` each task has a host port of its
    own, spread over the ephemeral range as dynamic ports are in a cluster that has run a while,
    and every task its own container."""
    per_host = max(1, math.ceil(tasks / instances))
    prefix = "arn:aws:ecs:us-east-1:123456789012"
    hosts = [parse_container_instance(*json.loads(json.dumps((
        {"containerInstanceArn": f"{prefix}:container-instance/bench/{n:032x}", "ec2InstanceId": f"i-{n:017x}",
         "status": "ACTIVE", "agentConnected": True,
         "versionInfo": {"agentVersion": "1.88.0", "dockerVersion": "25.0.3"},
         "registeredResources": [{"name": "CPU", "integerValue": 2048}, {"name": "MEMORY", "integerValue": 3904}],
         "remainingResources": [{"name": "CPU", "integerValue": 2048 - 128 * per_host},
                                {"name": "MEMORY", "integerValue": 3904 - 256 * per_host}],
         "runningTasksCount": per_host, "pendingTasksCount": 0,
         "attributes": [{"name": "ecs.os-type", "value": "linux"}]},
        {"InstanceId": f"i-{n:017x}", "PrivateIpAddress": f"10.{n // 250}.{n % 250}.10",
         "PublicIpAddress": f"54.{n // 250}.{n % 250}.10",
         "PrivateDnsName": f"ip-10-{n // 250}-{n % 250}-10.ec2.internal", "InstanceType": "t3.medium"}))))
        for n in range(instances)]
    definitions = [parse_task_definition(
        {"taskDefinitionArn": f"{prefix}:task-definition/svc{f}:1", "family": f"svc{f}", "revision": 1,
         "containerDefinitions": [{"name": f"svc{f}", "cpu": 128, "memory": 256, "portMappings": [
             {"containerPort": CONTAINER_PORT, "hostPort": 0}], "environment": [
             {"name": f"SERVICE_PORT_{CONTAINER_PORT}", "value": f"_svc{f}._tcp.{ZONE}"},
             {"name": "SERVICE_FQDN_LOCAL", "value": f"svc{f}.{ZONE}"}]}]}) for f in range(services)]
    found: list[Task] = []
    parts: dict[Any, Any] = {}  # the reader's memo of repeated parts, one a read
    for n in range(tasks):
        definition, on = definitions[n % services], hosts[n // per_host]
        found.append(parse_task(json.loads(json.dumps({
            "taskArn": f"{prefix}:task/bench/{n:032x}", "clusterArn": f"{prefix}:cluster/bench",
            "taskDefinitionArn": definition.arn, "containerInstanceArn": on.arn,
            "overrides": {"containerOverrides": []}, "lastStatus": "RUNNING", "desiredStatus": "RUNNING",
            "containers": [{"containerArn": f"{prefix}:container/bench/{n:032x}/{definition.family}",
                            "name": definition.family, "lastStatus": "RUNNING", "networkBindings": [
                                {"bindIP": "0.0.0.0", "containerPort": CONTAINER_PORT, "hostPort": 32768 + (
                                     (n * 7919) % 28_000 if dynamic_ports else n % per_host),
                                 "protocol": "tcp"}]}],
            "startedBy": f"ecs-svc/{n % services:019d}", "createdAt": T0.timestamp() + n,
            "startedAt": T0.timestamp() + n, "group": f"service:{definition.family}", "launchType": "EC2",
            "healthStatus": "UNKNOWN"})), definition, parts))
    return ClusterSnapshot("bench", "us-east-1", T0, tuple(hosts), tuple(found))


def converged_zone(desired: dict[tuple[str, RecordKey], RecordSet], owner: str = OWNER
                   ) -> dict[tuple[str, RecordKey], RecordSet]:
    """The zone as dns-sync leaves it: every desired record set and its TXT registry record."""
    existing = dict(desired)
    for zone, key in desired:
        existing[(zone, registry_key(key))] = registry_record(key, owner, 300)
    return existing


# ---- measuring and printing ----------------------------------------------------------------------

@dataclass(frozen=True)
class Measured:
    median_ms: float
    peak_mib: float


def measure(work: Callable[[], object], runs: int = 7) -> Measured:
    """Median wall time of `runs` runs, and the peak memory `work` allocates (in one more run:
    tracing slows the timed ones)."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    tracemalloc.start()
    try:
        work()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return Measured(statistics.median(timings), peak / 2**20)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Numbers right-aligned, text left-aligned."""
    def cell(value: object) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    def numeric(text: str) -> bool:
        return all(part.replace(".", "", 1).isdigit() for part in text.split(" / "))

    cells = [[cell(v) for v in row] for row in rows]
    aligns = ["---:" if all(numeric(r[n]) for r in cells) else ":---" for n in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def machine() -> str:
    return (f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}")

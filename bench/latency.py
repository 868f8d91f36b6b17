"""Convergence latency in event mode.

ECS source (lb-sync, dns-sync): a daemon woken by ECS task state change events (EventBridge rule
-> SQS queue, in the sandbox) on a cluster of 100 tasks on 20 instances. Each cycle starts a
probe task on another host (when it is RUNNING it must get the traffic: listeners and health
check on its port, its host the only one registered / its SRV value published), then stops it
(at once, while it still runs, traffic goes back to the base task / its SRV value is withdrawn).
Latency runs from the moment the event reached the queue to the first moment the load balancer
or the record set is right.

Docker source (dns-sync's per-host agent, on a real Docker engine): from Docker's start event of
a container to its SRV record in Route53, and from the kill event of its stop signal (SIGTERM,
which this container outlives, as a draining app does) to the record's removal.
Skipped, with a line saying so, when no engine answers at DOCKER_HOST.
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from _support import (
    CLUSTER,
    CONTAINER_PORT,
    OWNER,
    ZONE,
    World,
    build_world,
    is_read,
    machine,
    markdown_table,
    percentile,
    task_definition,
)
from ecsfleet.aws import AwsTarget, Clients
from ecsfleet.dns import DnsSync
from ecsfleet.dns.docker_source import DockerDnsSync
from ecsfleet.dns.endpoints import Host
from ecsfleet.dns.names import normalize, srv_value
from ecsfleet.lbsync import LbSync
from ecsfleet.lbsync.services import ServiceEntry
from ecsfleet.runner import PassReport, Reconciler, SqsWakeups, run_forever
from ecsfleet.sandbox import Sandbox, moto_bridge
from support import rule_to_queue

CYCLES = 100  # a start and a stop each: 200 changes
DOCKER_CYCLES = 50  # a start and a stop each: 100 changes
TASKS, INSTANCES = 100, 20
PROBE = "probe"
PROBE_CPU = 256
STOP_TIMEOUT = 2
SETTLE_SECONDS = 0.02
TIMEOUT = 30.0


class EventTimes:
    """When each ECS event reached the SQS queue. The sandbox puts ECS events on EventBridge, which
    delivers them to the queue within that same call: timing the call's return times arrival."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, str, str], float] = {}
        self._original = moto_bridge.put_event

    def __enter__(self) -> EventTimes:
        original = self._original

        def put_event(region: str, detail_type: str, source: str, resources: list[str], detail: dict[str, Any],
                      at: float) -> None:
            original(region, detail_type, source, resources, detail, at)
            if resources:
                self.at[(resources[0], detail.get("lastStatus", ""), detail.get("desiredStatus", ""))] = \
                    time.perf_counter()

        moto_bridge.put_event = put_event
        return self

    def __exit__(self, *_: object) -> None:
        moto_bridge.put_event = self._original


@dataclass
class Watched:
    """A reconciler that says when its passes start and end, so the benchmark knows when the
    daemon is idle before it makes the next change."""

    inner: Reconciler
    busy: bool = False
    last_start: float = 0.0
    starts: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    capability: str = field(init=False)

    def __post_init__(self) -> None:
        self.capability = self.inner.capability

    def reconcile(self, dry_run: bool) -> PassReport:
        self.busy, self.last_start = True, time.perf_counter()
        self.starts.append(self.last_start)
        try:
            return self.inner.reconcile(dry_run)
        finally:
            self.durations.append(time.perf_counter() - self.last_start)
            self.busy = False

    def settle(self, wake: threading.Event, since: float) -> None:
        """Wait until a pass that started after `since` is over and nothing wakes the daemon."""
        deadline = time.perf_counter() + TIMEOUT
        while time.perf_counter() < deadline:
            if self.last_start > since and not self.busy and not wake.is_set():
                time.sleep(SETTLE_SECONDS)  # an event still on its way would wake it now
                if not self.busy and not wake.is_set():
                    return
            time.sleep(0.002)
        raise TimeoutError(f"{self.capability} did not settle")


Change = tuple[float, float]  # perf_counter times: the event reached the controller's input, the state was right


@dataclass(frozen=True)
class Run:
    daemon: Watched
    started: list[Change]
    stopped: list[Change]

    def rows(self, source: str, started: str, stopped: str) -> list[tuple[object, ...]]:
        return [self.row(source, started, self.started), self.row(source, stopped, self.stopped),
                self.row(source, "all of the above", self.started + self.stopped)]

    def row(self, source: str, what: str, changes: list[Change]) -> tuple[object, ...]:
        """Latency, and its first part: from the event to the start of the pass that acts on it."""
        latency = [(done - event) * 1000 for event, done in changes]
        pickup = [(min(s for s in self.daemon.starts if s >= event) - event) * 1000 for event, _ in changes]
        return (source, what, len(latency), f"{statistics.median(latency):.0f}", f"{percentile(latency, 0.99):.0f}",
                f"{max(latency):.0f}", f"{statistics.median(pickup):.0f}",
                f"{statistics.median(self.daemon.durations) * 1000:.0f}")


def writes(sb: Sandbox) -> int:
    return sum(n for (_, op), n in sb.calls().items() if not is_read(op))


def converged_at(sb: Sandbox, correct: Callable[[], bool]) -> float:
    """perf_counter time of the first check that finds the state right. The state changes only
    when a write is served, so it is checked when the sandbox counts one and again 5 ms later (a
    check can run just before the write is applied), and every 100 ms whatever happens. Checking
    more often would take the CPU the controller needs."""
    deadline = time.perf_counter() + TIMEOUT
    seen, recheck, checked = -1, 0.0, 0.0
    while time.perf_counter() < deadline:
        now, count = time.perf_counter(), writes(sb)
        due = count != seen or (recheck and now >= recheck) or now - checked > 0.1
        if count != seen:
            seen, recheck = count, now + 0.005
        elif due and recheck and now >= recheck:
            recheck = 0.0
        if due:
            checked = now
            if correct():
                return time.perf_counter()
        time.sleep(0.001)
    raise TimeoutError("the change was not applied in time")


@dataclass(frozen=True)
class Probe:
    """What each cycle needs of the cluster: its container instances and where they are."""

    arns: tuple[str, ...]
    ec2_ids: tuple[str, ...]
    host_names: tuple[str, ...]

    @classmethod
    def read(cls, sb: Sandbox) -> Probe:
        ecs = sb.client("ecs")
        arns = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
        docs = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=arns)["containerInstances"]
        ec2_ids = [d["ec2InstanceId"] for d in docs]
        names = {i["InstanceId"]: i["PrivateDnsName"] for r in sb.client("ec2").describe_instances(
            InstanceIds=ec2_ids)["Reservations"] for i in r["Instances"]}
        return cls(tuple(d["containerInstanceArn"] for d in docs), tuple(ec2_ids), tuple(names[i] for i in ec2_ids))


def start_probe(sb: Sandbox, instance_arn: str) -> str:
    return str(sb.client("ecs").start_task(cluster=CLUSTER, taskDefinition=PROBE, containerInstances=[instance_arn],
                                           group=f"service:{PROBE}")["tasks"][0]["taskArn"])


def host_port(sb: Sandbox, task_arn: str) -> int:
    """ECS shows a task's network bindings once it runs."""
    task = sb.client("ecs").describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"][0]
    return int(task["containers"][0]["networkBindings"][0]["hostPort"])


def event_queue(sb: Sandbox, name: str) -> str:
    """An SQS queue that an EventBridge rule fills with ECS task state change events."""
    return rule_to_queue(sb, name, {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"]})


# The probe tasks that should get traffic, oldest first: (index of their host, host port).
Serving = list[tuple[int, int]]


def ecs_latencies(sb: Sandbox, make: Callable[[Clients, World], Reconciler],
                  right: Callable[[World, Probe, Serving], bool]) -> Run:
    """Seconds from event to a right state, for CYCLES probe starts and CYCLES probe stops.
    `right(world, probe, serving)` says whether the load balancer or the record set serves
    exactly `serving` (host 0 runs the base task, which keeps serving throughout)."""
    world = build_world(sb, TASKS, INSTANCES)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition(PROBE, PROBE_CPU, stop_timeout=STOP_TIMEOUT))
    elb = sb.client("elb")
    elb.create_load_balancer(
        LoadBalancerName=f"{PROBE}-lb", Subnets=[world.subnet_id],
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}])
    elb.configure_health_check(LoadBalancerName=f"{PROBE}-lb", HealthCheck={
        "Target": "HTTP:8080/health", "Interval": 10, "Timeout": 5, "UnhealthyThreshold": 2, "HealthyThreshold": 3})
    probe = Probe.read(sb)
    base = start_probe(sb, probe.arns[0])
    sb.advance(2)
    base_port = host_port(sb, base)
    clients = Clients(AwsTarget(sb.region, sb.endpoint_url))
    daemon = Watched(make(clients, world))
    wakeups = SqsWakeups(clients, event_queue(sb, f"events-{daemon.capability}")).start()
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, daemon=True,
                              args=(daemon, 3600.0, False, wakeups.wake, None, stop))
    started: list[Change] = []
    stopped: list[Change] = []
    with EventTimes() as events:
        since = time.perf_counter()
        thread.start()
        daemon.settle(wakeups.wake, since)  # the first pass converges the whole world
        try:
            for cycle in range(CYCLES):
                host = 1 + cycle % (len(probe.arns) - 1)
                since = time.perf_counter()
                arn = start_probe(sb, probe.arns[host])
                daemon.settle(wakeups.wake, since)  # the PENDING event's pass: nothing to do yet
                since = time.perf_counter()
                sb.advance(2)  # RUNNING
                port = host_port(sb, arn)
                serving = [(0, base_port), (host, port)]
                done = converged_at(sb, partial(right, world, probe, serving))
                started.append((events.at[(arn, "RUNNING", "RUNNING")], done))
                daemon.settle(wakeups.wake, since)
                since = time.perf_counter()
                ecs.stop_task(cluster=CLUSTER, task=arn)  # desiredStatus STOPPED: leaving at once
                done = converged_at(sb, lambda: right(world, probe, [(0, base_port)]))
                stopped.append((events.at[(arn, "RUNNING", "STOPPED")], done))
                daemon.settle(wakeups.wake, since)
                sb.advance(STOP_TIMEOUT)  # STOPPED: its pass runs along with the next start's
        finally:
            stop.set()
            wakeups.stop()
            thread.join(timeout=10)
    return Run(daemon, started, stopped)


def lbsync_latencies(sb: Sandbox) -> Run:
    elb = sb.client("elb")

    def right(world: World, probe: Probe, serving: Serving) -> bool:
        """The newest task's port on every listener and the health check; registered: exactly
        the hosts that serve on that port (each host picks its dynamic ports on its own, so two
        hosts may well use the same)."""
        port = serving[-1][1]
        lb = elb.describe_load_balancers(LoadBalancerNames=[f"{PROBE}-lb"])["LoadBalancerDescriptions"][0]
        return (all(d["Listener"]["InstancePort"] == port for d in lb["ListenerDescriptions"])
                and lb["HealthCheck"]["Target"].split(":")[1].split("/")[0] == str(port)
                and {i["InstanceId"] for i in lb["Instances"]} == {probe.ec2_ids[h] for h, p in serving if p == port})

    def make(clients: Clients, world: World) -> Reconciler:
        services = [*world.services, ServiceEntry(serviceName=PROBE, family=PROBE, exposedContainerName=PROBE,
                                                  loadBalancerName=f"{PROBE}-lb")]
        return LbSync(clients, CLUSTER, lambda: services)

    return ecs_latencies(sb, make, right)


def srv_record_values(route53: Any, zone_id: str, name: str) -> set[str]:
    found = route53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=name, StartRecordType="SRV",
                                              MaxItems="1")["ResourceRecordSets"]
    if not found or normalize(found[0]["Name"]) != name or found[0]["Type"] != "SRV":
        return set()
    return {r["Value"] for r in found[0]["ResourceRecords"]}


def dns_latencies(sb: Sandbox) -> Run:
    route53 = sb.client("route53")
    name = normalize(f"_{PROBE}._tcp.{ZONE}")

    def right(world: World, probe: Probe, serving: Serving) -> bool:
        return srv_record_values(route53, world.zone_id, name) == {
            srv_value(1, 1, port, probe.host_names[host]) for host, port in serving}

    return ecs_latencies(sb, lambda clients, world: DnsSync(clients, CLUSTER, OWNER, (world.zone_id,)), right)


# ---- Docker source ------------------------------------------------------------------------------

DOCKER_HOST_ID = Host("i-0bench0000000000", "54.1.2.3", "10.0.0.7", "ip-10-0-0-7.ec2.internal")


def docker_engine() -> Any | None:
    """The engine at DOCKER_HOST (or the default socket), or None with the reason printed."""
    from docker_engine import BUSYBOX

    if not BUSYBOX.exists():
        print("Docker row skipped: busybox-static is not installed (apt-get install busybox-static)")
        return None
    try:
        import docker

        url = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        client = docker.DockerClient(base_url=url, timeout=30)
        client.ping()
    except Exception as error:
        print(f"Docker row skipped: no Docker engine answers ({error}); start one with "
              f"`eval \"$(bash scripts/dockerd.sh start)\"`")
        return None
    return client


@dataclass
class DockerEvents:
    """Docker's own time (ns since the epoch) of each container's start and kill events."""

    client: Any
    at: dict[tuple[str, str], int] = field(default_factory=dict)

    def start(self) -> DockerEvents:
        self._stream = self.client.events(decode=True, filters={"type": "container"})
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        with contextlib.suppress(Exception):  # the stream ends when it is closed
            for event in self._stream:
                action = str(event.get("Action") or "").split(":")[0]
                self.at.setdefault((str(event.get("id")), action), int(event["timeNano"]))

    def close(self) -> None:
        self._stream.close()

    def wait(self, container_id: str, action: str) -> int:
        deadline = time.perf_counter() + TIMEOUT
        while (container_id, action) not in self.at:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no {action} event for {container_id}")
            time.sleep(0.001)
        return self.at[(container_id, action)]


def docker_latencies(sb: Sandbox, client: Any) -> Run:
    from docker_engine import ensure_image, run_httpd

    sb.reset()
    route53 = sb.client("route53")
    zone_id = route53.create_hosted_zone(Name=ZONE, CallerReference="docker-bench")["HostedZone"]["Id"]
    zone_id = zone_id.rsplit("/", 1)[-1]
    name = normalize(f"_{PROBE}._tcp.{ZONE}")

    def published(value: str, wanted: bool) -> bool:
        return (value in srv_record_values(route53, zone_id, name)) == wanted

    agent = DockerDnsSync(Clients(AwsTarget(sb.region, sb.endpoint_url)), client, DOCKER_HOST_ID,
                          f"host/{DOCKER_HOST_ID.id}", (zone_id,))
    daemon = Watched(agent)
    image = ensure_image(client)
    events = DockerEvents(client).start()
    agent.watch()
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, daemon=True, args=(daemon, 3600.0, False, agent.wake, None, stop))
    # Docker stamps events with the wall clock: move them onto perf_counter's time line.
    offset = time.perf_counter() - time.time()
    started: list[Change] = []
    stopped: list[Change] = []
    since = time.perf_counter()
    thread.start()
    daemon.settle(agent.wake, since)
    try:
        for _ in range(DOCKER_CYCLES):
            since = time.perf_counter()
            # Without an init process busybox ignores SIGTERM: it keeps serving after the stop
            # signal, as an app that drains does, so its record must leave while it still runs.
            container = run_httpd(client, image, {f"SERVICE_PORT_{CONTAINER_PORT}": name},
                                  {f"{CONTAINER_PORT}/tcp": None}, init=False)
            try:
                container.reload()
                port = int(container.attrs["NetworkSettings"]["Ports"][f"{CONTAINER_PORT}/tcp"][0]["HostPort"])
                value = srv_value(1, 1, port, str(DOCKER_HOST_ID.hostname))
                done = converged_at(sb, partial(published, value, True))
                started.append((events.wait(container.id, "start") / 1e9 + offset, done))
                daemon.settle(agent.wake, since)
                since = time.perf_counter()
                container.kill(signal="SIGTERM")  # what `docker stop` sends first
                done = converged_at(sb, partial(published, value, False))
                stopped.append((events.wait(container.id, "kill") / 1e9 + offset, done))
                daemon.settle(agent.wake, since)
            finally:
                container.remove(force=True)
    finally:
        stop.set()
        agent.stop_watching()
        events.close()
        thread.join(timeout=10)
    return Run(daemon, started, stopped)


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    began = time.perf_counter()
    rows = []
    with Sandbox() as sb:
        os.environ.update(sb.env())
        run = lbsync_latencies(sb)
        rows += run.rows("lb-sync (ECS events)", "task RUNNING -> listeners, health check, registration",
                         "task stopping -> traffic back to the base task")
        run = dns_latencies(sb)
        rows += run.rows("dns-sync (ECS events)", "task RUNNING -> SRV value published",
                         "task stopping -> SRV value withdrawn")
        engine = docker_engine()
        if engine is not None:
            run = docker_latencies(sb, engine)
            rows += run.rows("dns-sync (Docker events)", "container start -> SRV record created",
                             "SIGTERM (kill event), still running -> SRV record deleted")
    print(f"Convergence latency in event mode, ECS source on {TASKS} tasks / {INSTANCES} instances "
          f"({machine()}; {time.perf_counter() - began:.0f} s)")
    print(markdown_table(["controller", "change", "changes", "median ms", "p99 ms", "max ms",
                          "event to pass start, median ms", "pass, median ms"], rows))


if __name__ == "__main__":
    main()

"""`Sandbox`: an emulated AWS on one local endpoint, with a clock and fault switches."""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections import Counter
from types import TracebackType
from typing import Any

from ..amis import RECOMMENDED_AMI_PARAMETER
from . import moto_bridge
from .amis import publish_image
from .clock import MAX_ADVANCE, MAX_SPEED, SandboxClock
from .ecs import EcsRegion, EcsTimings
from .ecs_api import EcsApi, iso_times, render_instance, render_task
from .ecs_model import ACCOUNT_ID, ContainerInstance
from .moto_cloudformation import patch_moto_cloudformation
from .moto_delivery import patch_moto_delivery
from .moto_fleets import clear_stack_failures, fail_stack, patch_moto_fleets
from .moto_lifecycle import patch_moto_lifecycle, route_lifecycle_timers, unroute_lifecycle_timers
from .moto_route53 import (
    DEFAULT_PROPAGATION,
    Timing,
    arm_prior_request,
    patch_moto_route53,
    route_route53,
    unroute_route53,
)
from .moto_spot import (
    MODIFYING_SECONDS,
    interrupt,
    patch_moto_spot,
    region_market,
    running_instance,
    set_modifying_seconds,
)
from .server import CallLog, Control, FaultBook, SandboxApp
from .spot_market import reset_markets
from .world import SandboxWorld

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}
PULL_FAILURE = "CannotPullContainerError: pull image manifest has been retried 5 time(s)"

log = logging.getLogger(__name__)


class Sandbox:
    """Serve an emulated AWS on `endpoint_url` until `stop()` (or the end of a `with` block).

    moto keeps its state per process, so one process runs one sandbox at a time.
    `realtime=True` moves the sandbox clock with the wall clock (times `speed`); otherwise it
    moves only through `advance()`, which makes tests repeatable.
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        region: str = "us-east-1",
        realtime: bool = False,
        speed: float = 1.0,
        timings: EcsTimings | None = None,
        verbose: bool = False,
        dns_port: int | None = None,
        spot_modifying_seconds: float = MODIFYING_SECONDS,
        route53_propagation: float = DEFAULT_PROPAGATION,
    ) -> None:
        """`dns_port`: also answer the Route53 zones over DNS on this UDP port (0 picks one).
        `route53_propagation`: seconds (sandbox clock) a Route53 change stays PENDING before INSYNC."""
        if not math.isfinite(speed) or not 0 < speed <= MAX_SPEED:
            raise ValueError(f"speed {speed}: expected more than 0 and at most {MAX_SPEED:g}")
        self.region = region
        self.verbose = verbose
        self.ready = True  # `sandbox up` holds it False until its seed exists (`sandbox ready` waits for it)
        # Sandbox seconds a spot fleet stays `modifying` after ModifySpotFleetRequest (AWS refuses
        # another modify meanwhile).
        self.spot_modifying_seconds = spot_modifying_seconds
        self._dns_port = dns_port
        self._dns: Any = None
        self.timings = timings or EcsTimings()
        self.clock = SandboxClock()
        self._host, self._port = host, port
        self._realtime, self._speed = realtime, speed
        self.lock = threading.RLock()
        self._calls = CallLog()
        self._faults = FaultBook()
        self._regions: dict[str, EcsRegion] = {}
        self._server: Any = None
        self._hook: moto_bridge.ClusterHook = (self._cluster_created, self._cluster_deleted)
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        # (attribute, value, reason): tasks on container instances with that attribute never start.
        self._failing_hosts: list[tuple[str, str, str]] = []
        self._clock_source = lambda: self.clock  # `reset` replaces the clock
        # A lambda, not `self.clock.now`: `reset` replaces the clock.
        self._route53 = Timing(lambda: self.clock.now(), route53_propagation)  # noqa: PLW0108

    # ---- life cycle -----------------------------------------------------------------------

    def start(self) -> Sandbox:
        import logging

        from werkzeug.serving import make_server

        # One line per request drowns everything else; `sandbox up --verbose` turns it back on.
        logging.getLogger("werkzeug").setLevel(logging.INFO if self.verbose else logging.WARNING)
        moto_bridge.reset_moto()
        reset_markets()
        moto_bridge.route_ecs_clusters(self._hook)
        patch_moto_fleets()
        patch_moto_cloudformation()  # after moto_fleets: it rolls back the creates fail_stack fails
        patch_moto_lifecycle()
        patch_moto_spot()
        set_modifying_seconds(self.spot_modifying_seconds)
        patch_moto_route53()
        patch_moto_delivery()  # the pipeline stack's CodePipeline, CodeBuild and connection resources
        route_lifecycle_timers(self._clock_source)
        route_route53(self._route53)
        app = SandboxApp(
            moto=moto_bridge.moto_app(),
            ecs=EcsApi(self.ecs),
            lock=self.lock,
            calls=self._calls,
            faults=self._faults,
            controls=self._controls(),
            default_region=self.region,
            world=lambda region: SandboxWorld(region, self.ecs, self.now),
        )
        self._server = make_server(
            self._host, self._port, app, threaded=True, request_handler=moto_bridge.request_handler()
        )
        self._port = self._server.server_address[1]
        self._threads = [threading.Thread(target=self._server.serve_forever, name="sandbox-http", daemon=True)]
        if self._realtime:
            self._threads.append(threading.Thread(target=self._tick_forever, name="sandbox-clock", daemon=True))
        for thread in self._threads:
            thread.start()
        if self._dns_port is not None:
            from .dns_server import SandboxDns

            self._dns = SandboxDns(self.lock, self._dns_port, self._host)
            self._dns.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        moto_bridge.unroute_ecs_clusters(self._hook)
        unroute_lifecycle_timers(self._clock_source)
        unroute_route53(self._route53)
        if self._dns is not None:
            self._dns.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _tick_forever(self) -> None:
        last = time.monotonic()
        while not self._stopping.wait(0.1):
            now = time.monotonic()
            try:
                self.advance((now - last) * self._speed)
            except Exception:  # one bad tick must not stop time: every task would stay PENDING for ever
                log.exception("sandbox clock: a tick failed; the clock goes on")
            last = now

    # ---- where and how to reach it ---------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return int(self._port)

    @property
    def dns_port(self) -> int | None:
        """The UDP port the Route53 zones are answered on, when started with `dns_port`."""
        return self._dns.port if self._dns is not None else None

    def env(self) -> dict[str, str]:
        """Environment that points boto3 (and so ecsfleet) at this sandbox."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **CREDENTIALS,
        }

    def client(self, service: str, **kwargs: Any) -> Any:
        import boto3

        make: Any = boto3.client
        return make(
            service,
            region_name=kwargs.pop("region_name", self.region),
            endpoint_url=self.endpoint_url,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            **kwargs,
        )

    # ---- time ------------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def advance(self, seconds: float = 0.0) -> None:
        """Move the sandbox clock: tasks start and stop, agents update, EC2 instances join."""
        with self.lock:
            self.clock.advance(seconds)
            for region in list(self._regions.values()):
                region.reconcile_all()
            self.clock.run_due()

    # ---- call counting ---------------------------------------------------------------------

    def calls(self, service: str | None = None) -> Counter[tuple[str, str]]:
        counts = self._calls.snapshot()
        if service is None:
            return counts
        return Counter({key: n for key, n in counts.items() if key[0] == service})

    def call_sequence(self, service: str | None = None) -> list[tuple[str, str]]:
        """Calls in the order served, to assert the order of writes."""
        return [c for c in self._calls.sequence() if service is None or c[0] == service]

    def count(self, service: str, operation: str) -> int:
        return self._calls.snapshot()[(service, operation)]

    def reset_calls(self) -> None:
        self._calls.reset()

    # ---- fault switches --------------------------------------------------------------------

    def throttle(self, service: str, operation: str, times: int = 1) -> None:
        self._faults.arm(service, operation, times, "throttle")

    def fail(self, service: str, operation: str, times: int = 1) -> None:
        """The next `times` calls answer with a 5xx server error."""
        self._faults.arm(service, operation, times, "server-error")

    def prior_request_not_complete(self, times: int = 1) -> None:
        """The next `times` Route53 ChangeResourceRecordSets to a zone that still has a PENDING
        change fail with PriorRequestNotComplete (AWS: the zone is still processing a prior request)."""
        with self.lock:
            arm_prior_request(times)

    def disconnect_agent(self, instance: str, connected: bool = False) -> None:
        with self.lock:
            region, ci = self._find_instance(instance)
            region.set_agent_connected(ci, connected)

    def reconnect_agent(self, instance: str) -> None:
        self.disconnect_agent(instance, connected=True)

    def fail_agent_update(self, instance: str) -> None:
        """The next agent update of this instance ends FAILED instead of UPDATED."""
        with self.lock:
            self._find_instance(instance)[1].fail_next_update = True

    def set_agent_facts(self, instance: str, *, os_type: str | None = None, architecture: str | None = None,
                        version_info: bool | None = None) -> None:
        """What this container instance's agent reports: `ecs.os-type` (linux / windows),
        `ecs.cpu-architecture` (x86_64 / arm64; Graviton instance types report arm64 on their
        own), and whether it sends version information at all. AWS refuses UpdateContainerAgent
        on Windows, on arm64 and without version information."""
        with self.lock:
            region, ci = self._find_instance(instance)
            if os_type is not None:
                ci.attributes["ecs.os-type"] = os_type
            if architecture is not None:
                ci.attributes["ecs.cpu-architecture"] = architecture
            if version_info is not None:
                ci.agent_hash = "e5c0a5a5" if version_info else None
            region.instance_changed(ci)

    def terminate_instance(self, instance: str) -> None:
        """Terminate the EC2 instance: its container instance deregisters and its tasks stop."""
        with self.lock:
            region_name = self.region
            ec2_id = instance
            if instance.startswith("arn:"):
                region, ci = self._find_instance(instance)
                region_name, ec2_id = region.region, ci.ec2_instance_id
            moto_bridge.terminate_instance(region_name, ec2_id)
        self.advance(0)

    def interrupt_spot(self, instance_id: str, notice_seconds: float = 120.0) -> None:
        """An `EC2 Spot Instance Interruption Warning` now; the instance terminates `notice_seconds`
        later on the sandbox clock, and a `maintain` spot fleet launches its replacement."""
        with self.lock:
            region = running_instance([self.region, *self._regions], instance_id)
            arn = f"arn:aws:ec2:{region}:{ACCOUNT_ID}:instance/{instance_id}"
            moto_bridge.put_event(region, "EC2 Spot Instance Interruption Warning", "aws.ec2", [arn],
                                  {"instance-id": instance_id, "instance-action": "terminate"}, self.clock.now())
            self.clock.call_later(notice_seconds, lambda: interrupt(region, instance_id))

    def fail_tasks_on(self, attribute: str, value: str, reason: str = PULL_FAILURE) -> None:
        """Tasks on container instances whose ECS attribute `attribute` is `value` (placed now or
        later) stop when they would start: stopCode TaskFailedToStart, stoppedReason `reason`."""
        with self.lock:
            self._failing_hosts.append((attribute, value, reason))

    def _start_failure(self, ci: ContainerInstance) -> str | None:
        return next((reason for attribute, value, reason in self._failing_hosts
                     if ci.attributes.get(attribute) == value), None)

    def publish_ami(self, name: str | None = None, parameter: str | None = RECOMMENDED_AMI_PARAMETER,
                    owner: str = "amazon") -> str:
        """A newer AMI: an image created now (sandbox clock) and, unless `parameter` is None, the
        new value of that SSM parameter (by default AWS's recommended ECS-optimized AMI). `owner`
        "amazon" or "self" (an image the account built, e.g. with EC2 Image Builder)."""
        with self.lock:
            return publish_image(self.region, self.clock.now(), name, parameter, owner)

    def set_spot_price(self, instance_type: str, price: float, az: str | None = None) -> None:
        """The spot price of `instance_type` in zone `az` (every zone of the region when None)
        is `price` $/hour from now on (sandbox clock): DescribeSpotPriceHistory shows the change,
        and spot fleets choose their pools by it. ValueError for a price that is not positive or
        a zone the region does not have."""
        from moto.ec2.models import ec2_backends

        with self.lock:
            region_market(ec2_backends[ACCOUNT_ID][self.region]).set(instance_type, float(price), az,
                                                                     self.clock.now())

    def spot_price(self, instance_type: str, az: str) -> float | None:
        """The current spot price of `instance_type` in zone `az` (None: the market has none)."""
        from moto.ec2.models import ec2_backends

        with self.lock:
            return region_market(ec2_backends[ACCOUNT_ID][self.region]).price(instance_type, az)

    def fail_stack(self, stack_name: str, logical_id: str, reason: str = "Resource creation failed") -> None:
        """The next create or update of this CloudFormation stack fails on `logical_id`."""
        with self.lock:
            fail_stack(stack_name, logical_id, reason)

    def reset(self) -> None:
        """Forget every resource, call count and fault (moto's state included)."""
        with self.lock:
            clear_stack_failures()
            moto_bridge.reset_moto()
            reset_markets()
            self._regions.clear()
            # Timers of the old world must not fire into the new one.
            self.clock = SandboxClock(start=self.clock.now())
            self._faults.clear()
            self._failing_hosts.clear()
            self._calls.reset()

    # ---- internals -------------------------------------------------------------------------

    def ecs(self, region: str) -> EcsRegion:
        existing = self._regions.get(region)
        if existing is not None:
            return existing

        def emit(detail_type: str, source: str, resources: list[str], detail: dict[str, Any]) -> None:
            stamped = {**detail, "updatedAt": self.clock.now()}
            moto_bridge.put_event(region, detail_type, source, resources, iso_times(stamped), self.clock.now())

        created = EcsRegion(
            region,
            self.clock,
            self.timings,
            ec2_facts=lambda: moto_bridge.ec2_facts(region),
            emit=emit,
            render_task=lambda task: render_task(created, task),
            render_instance=lambda ci: render_instance(created, ci),
            start_failure=self._start_failure,
        )
        self._regions[region] = created
        return created

    def _find_instance(self, ref: str) -> tuple[EcsRegion, ContainerInstance]:
        for region in self._regions.values():
            for ci in region.instances.values():
                if ref in (ci.arn, ci.id, ci.ec2_instance_id):
                    return region, ci
        raise KeyError(f"no container instance {ref!r} in the sandbox")

    def _cluster_created(self, region: str, name: str) -> None:
        self.ecs(region).create_cluster(name)

    def _cluster_deleted(self, region: str, name: str) -> None:
        cluster = self.ecs(region).clusters.get(name)
        if cluster is not None:
            cluster.status = "INACTIVE"

    def _controls(self) -> dict[str, Control]:
        def calls(_: dict[str, Any]) -> Any:
            return {"calls": [{"service": s, "operation": o, "count": n}
                              for (s, o), n in sorted(self._calls.snapshot().items())]}

        def fault(args: dict[str, Any]) -> None:
            self._faults.arm(args["service"], args["operation"], int(args.get("times", 1)),
                             args.get("kind", "throttle"))

        return {
            "health": lambda _: {"ok": True, "ready": self.ready, "region": self.region, "now": self.clock.now()},
            "calls": calls,
            "calls/reset": lambda _: self.reset_calls(),
            "advance": lambda a: self.advance(advance_seconds(a.get("seconds", 0))),
            "fault": fault,
            "agent/disconnect": lambda a: self.disconnect_agent(a["instance"]),
            "agent/reconnect": lambda a: self.reconnect_agent(a["instance"]),
            "agent/fail-update": lambda a: self.fail_agent_update(a["instance"]),
            "agent/facts": lambda a: self.set_agent_facts(a["instance"], os_type=a.get("os_type"),
                                                          architecture=a.get("architecture"),
                                                          version_info=a.get("version_info")),
            "instance/terminate": lambda a: self.terminate_instance(a["instance"]),
            "spot/interrupt": lambda a: self.interrupt_spot(a["instance"], float(a.get("notice", 120.0))),
            "tasks/fail-on": lambda a: self.fail_tasks_on(a["attribute"], a["value"], a.get("reason", PULL_FAILURE)),
            "route53/prior-request": lambda a: self.prior_request_not_complete(int(a.get("times", 1))),
            "ami/publish": lambda a: {"imageId": self.publish_ami(
                a.get("name"), a.get("parameter", RECOMMENDED_AMI_PARAMETER), a.get("owner", "amazon"))},
            "stack/fail": lambda a: self.fail_stack(a["stack"], a["resource"], a.get("reason", "Resource failed")),
            "spot/price": lambda a: self.set_spot_price(a["instance_type"], float(a["price"]), a.get("az")),
            "reset": lambda _: self.reset(),
        }


def advance_seconds(value: Any) -> float:
    """A control's `seconds`: finite, from 0 to MAX_ADVANCE (ValueError otherwise: a 400)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_ADVANCE:
        raise ValueError(f"seconds {value!r}: expected a number from 0 to {MAX_ADVANCE:g}")
    return seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_credentials() -> None:
    """boto3 signs every request; the sandbox accepts any key, so supply one when none is set."""
    for key, value in CREDENTIALS.items():
        os.environ.setdefault(key, value)

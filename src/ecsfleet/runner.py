"""Drives a capability's reconcile pass: once, in a loop with early wake-ups from ECS events on
SQS, or from a Lambda handler; reports each action on one log line and as Prometheus metrics."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .aws import Clients, explain_connection_error, shorten_deadline
from .aws import deadline as aws_deadline
from .errors import UserError

log = logging.getLogger("ecsfleet")


@dataclass(frozen=True)
class Outcome:
    """What became of one planned action."""

    kind: str
    target: str
    detail: str
    ok: bool = True
    skipped: bool = False
    error: str | None = None

    def log_line(self) -> str:
        state = "skipped" if self.skipped else "ok" if self.ok else "failed"
        text = f"action={self.kind} target={self.target} result={state} {self.detail}"
        return text + (f" error={json.dumps(self.error)}" if self.error else "")


@dataclass(frozen=True)
class PassReport:
    capability: str
    dry_run: bool
    planned: tuple[str, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the pass is waiting for: shown, never an error
    gauges: Mapping[str, float] = field(default_factory=dict)  # exported as ecsfleet_<name> metrics

    @property
    def ok(self) -> bool:
        return not self.errors and all(o.ok for o in self.outcomes)

    @property
    def writes(self) -> int:
        return sum(1 for o in self.outcomes if not o.skipped)

    def summary(self) -> dict[str, Any]:
        return {
            "capability": self.capability,
            "ok": self.ok,
            "dryRun": self.dry_run,
            "planned": list(self.planned),
            "applied": [o.log_line() for o in self.outcomes if o.ok and not o.skipped],
            "failed": [o.log_line() for o in self.outcomes if not o.ok],
            "skipped": [o.log_line() for o in self.outcomes if o.skipped],
            "warnings": list(self.warnings),
            "errors": list(self.errors),
            "notes": list(self.notes),
            "gauges": dict(self.gauges),
        }


class Reconciler(Protocol):
    capability: str

    def reconcile(self, dry_run: bool) -> PassReport: ...


PASS_DEADLINE = 300.0  # seconds: no AWS call of a pass starts later than this (a hung pass ends)
SHUTDOWN_GRACE = 5.0  # seconds after SIGTERM/SIGINT in which the pass in flight may still start calls
LAMBDA_MARGIN = 0.2  # the share of a Lambda invocation's time kept free: no new change starts in it


def safe_pass(reconciler: Reconciler, dry_run: bool, log_outcomes: bool = True,
              deadline: float | None = PASS_DEADLINE) -> PassReport:
    """One pass that never raises on AWS or a bug: a failure becomes an error in the report,
    logged on one line (the traceback at debug level). A user's mistake (a missing cluster or
    zone) is raised: it will not fix itself, so a daemon stops on it. No AWS call starts after
    `deadline` seconds. Each outcome is logged on one line (a one-shot command prints them instead)."""
    try:
        with aws_deadline(deadline, f"{reconciler.capability} pass deadline ({deadline:g} s) reached"
                          if deadline is not None else ""):
            report = reconciler.reconcile(dry_run)
    except UserError:
        raise
    except Exception as error:
        hint = explain_connection_error(error, None)
        message = hint or f"{type(error).__name__}: {error}"
        if log_outcomes:
            log.error("%s pass failed: %s", reconciler.capability, message)
        log.debug("%s pass failed", reconciler.capability, exc_info=True)
        return PassReport(reconciler.capability, dry_run, errors=(message,))
    if not log_outcomes:
        return report
    for warning in report.warnings:
        log.warning("%s: %s", reconciler.capability, warning)
    for outcome in report.outcomes:
        (log.info if outcome.ok else log.error)("%s %s", reconciler.capability, outcome.log_line())
    for error_text in report.errors:
        log.error("%s: %s", reconciler.capability, error_text)
    return report


def lambda_pass(reconciler: Reconciler, context: Any) -> PassReport:
    """A Lambda handler's pass: no new change starts once less than LAMBDA_MARGIN of the
    invocation's time is left (the next invocation picks up the rest); without a context (a
    local call), the usual pass deadline."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return safe_pass(reconciler, dry_run=False)
    seconds = remaining() / 1000.0
    return safe_pass(reconciler, dry_run=False, deadline=max(0.0, seconds - max(3.0, seconds * LAMBDA_MARGIN)))


class Metrics:
    """Prometheus metrics of a daemon (served on --metrics-port)."""

    def __init__(self, capability: str, port: int | None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

        self.registry = CollectorRegistry()
        self.capability = capability
        self.reconciles = Counter("ecsfleet_reconciles", "Reconcile passes", ["capability", "outcome"],
                                  registry=self.registry)
        self.actions = Counter("ecsfleet_actions", "Actions applied", ["capability", "kind", "outcome"],
                               registry=self.registry)
        self.errors = Counter("ecsfleet_errors", "Errors seen in passes", ["capability"], registry=self.registry)
        self._last_success = time.monotonic()
        self._gauges: dict[str, Gauge] = {}
        self.since_success = Gauge("ecsfleet_seconds_since_last_success",
                                   "Seconds since the last pass that applied everything", ["capability"],
                                   registry=self.registry)
        self.since_success.labels(capability).set_function(lambda: time.monotonic() - self._last_success)
        if port is not None:
            try:
                start_http_server(port, registry=self.registry)
            except OSError as error:
                raise UserError(f"--metrics-port {port}: cannot serve metrics there ({error.strerror})") from error

    def observe(self, report: PassReport) -> None:
        self.reconciles.labels(self.capability, "ok" if report.ok else "error").inc()
        for outcome in report.outcomes:
            state = "skipped" if outcome.skipped else "ok" if outcome.ok else "failed"
            self.actions.labels(self.capability, outcome.kind, state).inc()
        failures = len(report.errors) + sum(1 for o in report.outcomes if not o.ok)
        if failures:
            self.errors.labels(self.capability).inc(failures)
        if report.ok:
            self._last_success = time.monotonic()
        for name, value in report.gauges.items():
            gauge = self._gauges.get(name)
            if gauge is None:
                from prometheus_client import Gauge

                gauge = self._gauges[name] = Gauge(f"ecsfleet_{name}", name.replace("_", " "), ["capability"],
                                                   registry=self.registry)
            gauge.labels(self.capability).set(value)


@dataclass
class SqsWakeups:
    """Long-polls an SQS queue that EventBridge fills with ECS events; any new event means "look
    again" (events arrive at least once and out of order, so they are never taken as the truth)."""

    clients: Clients
    queue_url: str
    wake: threading.Event = field(default_factory=threading.Event)
    seen: dict[str, int] = field(default_factory=dict)
    on_bodies: Callable[[list[str]], None] | None = None  # for capabilities that read the events themselves
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> SqsWakeups:
        threading.Thread(target=self._poll_forever, name="sqs-wakeups", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _poll_forever(self) -> None:
        sqs = self.clients("sqs")
        while not self._stop.is_set():
            try:
                messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                               WaitTimeSeconds=20).get("Messages", [])
            except Exception as error:
                log.warning("cannot read events from %s: %s", self.queue_url, error)
                self._stop.wait(5)
                continue
            if messages and self.on_bodies is not None:
                self.on_bodies([m.get("Body", "") for m in messages])
            if messages and self.fresh(m.get("Body", "") for m in messages):
                self.wake.set()
            if messages:
                try:
                    sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
                except Exception as error:
                    log.warning("cannot delete events from %s: %s", self.queue_url, error)

    def fresh(self, bodies: Iterable[str]) -> bool:
        """True when any event is newer than the last seen for its resource (detail.version)."""
        any_new = False
        for body in bodies:
            try:
                event = json.loads(body)
                resource = (event.get("resources") or [event.get("id", "")])[0]
                version = int((event.get("detail") or {}).get("version", 0))
            except (ValueError, TypeError, AttributeError, IndexError):
                any_new = True  # unreadable: look again anyway
                continue
            if version == 0 or version > self.seen.get(resource, -1):
                self.seen[resource] = max(version, self.seen.get(resource, -1))
                any_new = True
        return any_new


def run_forever(
    reconciler: Reconciler,
    interval: float,
    dry_run: bool = False,
    wake: threading.Event | None = None,
    metrics: Metrics | None = None,
    stop: threading.Event | None = None,
    on_report: Callable[[PassReport], None] | None = None,
) -> None:
    """Reconcile every `interval` seconds, and at once when `wake` is set (an ECS event on SQS, a
    Docker event). Never raises on an AWS error: the next pass tries again."""
    stop = stop or threading.Event()
    wake = wake or threading.Event()
    while not stop.is_set():
        wake.clear()
        report = safe_pass(reconciler, dry_run)
        if metrics:
            metrics.observe(report)
        if on_report:
            on_report(report)
        deadline = time.monotonic() + interval
        while not stop.is_set() and time.monotonic() < deadline:
            if wake.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
                break


def print_report(report: PassReport, echo: Callable[[str], None]) -> None:
    """What a one-shot run shows on stdout: the plan for a dry run, else what happened."""
    if report.dry_run:
        echo(f"{report.capability}: dry run, {len(report.planned)} change(s) planned, nothing applied")
        for line in report.planned:
            echo(f"  plan: {line}")
    else:
        applied = sum(1 for o in report.outcomes if o.ok and not o.skipped)
        failed = sum(1 for o in report.outcomes if not o.ok)
        echo(f"{report.capability}: {applied} change(s) applied, {failed} failed"
             + (", converged" if not report.outcomes and report.ok else ""))
    for outcome in report.outcomes:
        echo(f"  {outcome.log_line()}")
    for note in report.notes:
        echo(f"  {note}")
    for warning in report.warnings:
        echo(f"  warning: {warning}")
    for error in report.errors:
        echo(f"  error: {error}")


def drive(
    reconciler: Reconciler,
    clients: Clients,
    *,
    once: bool,
    interval: float | None,
    dry_run: bool,
    events_queue: str | None,
    metrics_port: int | None,
    echo: Callable[[str], None],
    wake: threading.Event | None = None,
    on_bodies: Callable[[list[str]], None] | None = None,
) -> int:
    """The `--once | --interval N` contract every controller command shares. Returns the exit code:
    0 when everything applied, 1 when anything failed."""
    if once:
        report = safe_pass(reconciler, dry_run, log_outcomes=False)
        print_report(report, echo)
        return 0 if report.ok else 1
    assert interval is not None
    wake = wake or threading.Event()
    wakeups = SqsWakeups(clients, events_queue, wake=wake, on_bodies=on_bodies).start() if events_queue else None
    metrics = Metrics(reconciler.capability, metrics_port) if metrics_port is not None else None
    log.info("%s: reconciling every %ss%s%s", reconciler.capability, interval,
             f", and on events from {events_queue}" if events_queue else "",
             f"; metrics on :{metrics_port}/metrics" if metrics_port is not None else "")
    stop = threading.Event()
    with StopOnSignals(reconciler.capability, stop) as signals:
        try:
            run_forever(reconciler, interval, dry_run, wake, metrics, stop)
        finally:
            if wakeups:
                wakeups.stop()
    log.info("%s: stopped on %s", reconciler.capability, signals.received or "request")
    return 0


class StopOnSignals:
    """SIGTERM (docker stop, ECS, systemd) and SIGINT end a daemon cleanly: the pass in flight
    may start AWS calls for SHUTDOWN_GRACE more seconds (so a change it began is finished), then
    the loop ends and the command exits 0. A second signal exits at once (128 + its number).
    Outside the main thread (tests driving a loop), signals are left alone."""

    def __init__(self, capability: str, stop: threading.Event) -> None:
        self.capability, self.stop = capability, stop
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGTERM, signal.SIGINT):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *_: object) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)

    def _handle(self, number: int, _frame: object) -> None:
        name = signal.Signals(number).name
        if self.received is not None:
            log.warning("%s: second signal (%s): exiting now", self.capability, name)
            os._exit(128 + number)
        self.received = name
        self.stop.set()
        shorten_deadline(SHUTDOWN_GRACE, f"stopping on {name}")


def read_queue(clients: Clients, queue_url: str, max_batches: int = 10) -> list[str]:
    """The bodies of what is waiting on a queue now (no long poll), deleted once read: what a
    one-shot pass acts on."""
    sqs = clients("sqs")
    bodies: list[str] = []
    for _ in range(max_batches):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", [])
        if not messages:
            break
        bodies += [m.get("Body", "") for m in messages]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    return bodies

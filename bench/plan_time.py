"""Planning time and memory of each pure planner on synthetic clusters built in memory (no
sandbox, no I/O): 10 tasks a host on distinct host ports, 200 tasks a service, each service
publishing an SRV and an A name, at 10,000, 25,000 and 50,000 tasks (1,000 to 5,000 instances).
The snapshot is what a controller holds: the snapshot's parser reads it from documents shaped as
ECS and EC2 answer them, each decoded from JSON (`_support.synthetic_snapshot`).

For each planner, a first pass (nothing in place yet) and a converged pass (everything in place:
the planner must find nothing to do). dns-sync is timed from the snapshot to the change batches,
as its controller runs it: the values the containers ask for (`snapshot_values`, grouped by name
as they are read), the name filter, record sets, the diff with its validation, and packing. Its
first pass starts, as a controller's does, with nothing kept; its converged pass with what the
pass before kept, as a controller's later passes do: the hosts and their SRV texts
(`endpoints.Places`), each record set's values in order (`plan.Ordered`).
lb-sync's planner is also timed at 10,000 tasks with five times as many services over the same
tasks (a planner scanning the tasks per service would grow with services x tasks), and both
lb-sync's and dns-sync's on a snapshot where every task has a host port of its own (dynamic host
ports spread over the ephemeral range): there the reader shares no container between tasks, so
a planner cannot lean on that sharing without it showing.

Each timed run plans from a `fresh` snapshot: the same tasks and instances, without the indexes
(tasks by family, service and host; instances by ARN) that a `ClusterSnapshot` builds on first
use and keeps. Until 2026-11-30 every run reused one snapshot object, so lb-sync's runs after the
first found its index of tasks by family already built, which no controller pass does (each
reads a new snapshot): its times left that index out. They now include it, as dns-sync's and
agents' always included their own per-pass tables.

Each size runs in a process of its own, so that its peak resident memory (`ru_maxrss`: the
snapshot, the planners and everything the process imported) is that size's alone. Peak MiB per
planner is what the planner itself allocates (tracemalloc, in a run apart from the timed ones).
Times are the median CPU time of 5 runs (`time.process_time`): the planners are pure computation,
and CPU time, unlike wall time, does not count what other jobs of a shared machine take. At the
first size, dns-sync's converged pass is also compared with lb-sync's in 21 alternate runs (one
of each in turn): the median and range of those ratios, steadier than the ratio of two medians
taken one planner after the other.

Each size also times a floor: a loop that only reaches what every planner reaches, each task's
statuses and host and each of its containers' port bindings, and computes nothing. Its growth
from the first size to the last is the machine's own (its caches), which no planner walking the
same objects can go below.

With `--instructions` (valgrind installed), the converged passes of lb-sync and dns-sync are also
counted in machine instructions, at the first size (both snapshots) and the last: the script runs
itself under valgrind's cachegrind, once making 8 passes and once none, the difference over 8.
Unlike a time, the count moves less than 0.5% from run to run, whatever else the machine does, which
makes it the measure to compare two planners, or two trees, on a shared machine; it does not see
what the processor's caches cost, which is what a pass's time adds to 5x from 10,000 to 50,000
tasks (the floor above).

    python bench/plan_time.py                              # the tables
    python bench/plan_time.py --chart docs/plan_time.png   # and the chart of time and memory
    python bench/plan_time.py --instructions               # and the instructions of a pass (valgrind)
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import json
import os
import pstats
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _support import OWNER, ZONE, converged_zone, machine, markdown_table, measure, synthetic_snapshot
from ecsfleet.agents.plan import Options, decide
from ecsfleet.dns.endpoints import Places, snapshot_values
from ecsfleet.dns.filters import NameRules
from ecsfleet.dns.plan import Ordered, pack, screened_records
from ecsfleet.dns.plan import plan as dns_plan
from ecsfleet.dns.records import RecordKey, RecordSet, Zone
from ecsfleet.lbsync.plan import (
    Action,
    Deregister,
    HealthCheck,
    Listener,
    LoadBalancer,
    MoveListener,
    Register,
    SetHealthCheck,
)
from ecsfleet.lbsync.plan import plan as lb_plan
from ecsfleet.lbsync.services import ServiceEntry
from ecsfleet.snapshot import ClusterSnapshot

SIZES = (10_000, 25_000, 50_000)  # tasks
TASKS_PER_HOST = 10
TASKS_PER_SERVICE = 200
MANY_SERVICES = 250  # lb-sync at the first size, five times the services over the same tasks
RUNS = 5
ALTERNATIONS = 21  # alternate runs of dns-sync's and lb-sync's converged passes, at the first size
FLOOR_RUNS = 21  # the floor takes a few milliseconds: more runs for a steady median
DNS_ZONE = Zone("Z1", f"{ZONE}.", False)
PLANNERS = ("lb-sync", "dns-sync", "agents")


@dataclasses.dataclass(frozen=True)
class Row:
    planner: str
    case: str
    work: int  # actions / changes / candidates
    median_ms: float  # CPU time
    gc_ms: float  # of which the cyclic garbage collector's
    peak_mib: float
    calls: int  # Python function calls in one run (cProfile): the work, without a clock


def applied(load_balancers: Mapping[str, LoadBalancer], actions: tuple[Action, ...]) -> dict[str, LoadBalancer]:
    """The load balancers as lb-sync's actions leave them."""
    state = dict(load_balancers)
    for action in actions:
        lb = state[action.load_balancer]
        match action:
            case Register(_, ids):
                lb = dataclasses.replace(lb, instances=lb.instances | set(ids))
            case Deregister(_, ids):
                lb = dataclasses.replace(lb, instances=lb.instances - set(ids))
            case SetHealthCheck(_, check, _):
                lb = dataclasses.replace(lb, health_check=check)
            case MoveListener(_, listener, port):
                lb = dataclasses.replace(lb, listeners=tuple(
                    dataclasses.replace(item, instance_port=port) if item == listener else item
                    for item in lb.listeners))
        state[lb.name] = lb
    return state


def fresh(snap: ClusterSnapshot) -> ClusterSnapshot:
    """The snapshot as a pass reads it: the same instances and tasks, and none of the indexes
    (by family, service, host, ARN) that `ClusterSnapshot` builds on first use and keeps. Every
    pass of a controller reads a new snapshot and builds them again: a timed run must too."""
    return dataclasses.replace(snap)


def lbsync_cases(snap: ClusterSnapshot) -> list[tuple[str, Callable[[], int]]]:
    """The first and the converged pass of lb-sync's planner, one load balancer per family."""
    families = sorted({t.family for t in snap.tasks})
    services = [ServiceEntry(serviceName=f, family=f, exposedContainerName=f, loadBalancerName=f"{f}-lb")
                for f in families]
    empty = {f"{f}-lb": LoadBalancer(f"{f}-lb", (Listener("HTTP", 80, "HTTP", 8080),),
                                     HealthCheck("HTTP:8080/health", 10, 5, 2, 3), frozenset())
             for f in families}
    scope = {i.ec2_instance_id for i in snap.instances}
    first = lb_plan(snap, services, empty, scope)
    done = applied(empty, first.actions)
    again = lb_plan(snap, services, done, scope)
    assert not again.actions, again.actions
    return [
        (f"{len(services)} services, 1st pass", lambda: len(lb_plan(fresh(snap), services, empty, scope).actions)),
        (f"{len(services)} services, converged", lambda: len(lb_plan(fresh(snap), services, done, scope).actions)),
    ]


def dns_changes(snap: ClusterSnapshot, existing: Mapping[tuple[str, RecordKey], RecordSet],
                kept: tuple[Places, Ordered] | None = None) -> int:
    """What dns-sync's ECS source computes between its reads and its writes: the values the
    containers ask for, the name filter, record sets, the diff (validating every name and value),
    and the change batches. `kept`: what the controller's last pass kept of its hosts and record
    sets (None: its first pass)."""
    places, ordered = kept or (None, None)
    values, _ = snapshot_values(snap, places)
    desired, _, _ = screened_records(values, [DNS_ZONE], NameRules(), 10, ordered=ordered)
    result = dns_plan(desired, existing, OWNER)
    for groups in result.groups_by_zone.values():
        pack(groups)
    return len(result.changes)


def dns_cases(snap: ClusterSnapshot, services: int) -> list[tuple[str, Callable[[], int]]]:
    desired, _, _ = screened_records(snapshot_values(snap)[0], [DNS_ZONE], NameRules(), 10)
    zone = converged_zone(desired)
    kept = (Places(), Ordered())
    assert dns_changes(snap, zone, kept) == 0
    return [
        (f"{services} services, 1st pass", lambda: dns_changes(fresh(snap), {})),
        (f"{services} services, converged", lambda: dns_changes(fresh(snap), zone, kept)),
    ]


def floor_walk(snap: ClusterSnapshot) -> int:
    """What every planner reaches at least, with nothing computed: each task's statuses and host,
    each of its containers' port bindings."""
    reached = 0
    for task in snap.tasks:
        if task.last_status == task.desired_status and task.container_instance_arn is not None:
            for container in task.containers:
                for binding in container.bindings:
                    reached += binding.host_port > 0
    return reached


def agents_cases(snap: ClusterSnapshot) -> list[tuple[str, Callable[[], int]]]:
    return [("decide", lambda: len(decide(fresh(snap), Options()).candidates))]


@dataclasses.dataclass(frozen=True)
class Size:
    tasks: int
    instances: int
    services: int
    imports_mib: float  # the process's resident memory before the snapshot is built
    rss_mib: float  # its peak resident memory, planners run
    rows: tuple[Row, ...]  # the size's own snapshot
    others: tuple[Row, ...] = ()  # other snapshots of as many tasks (the first size only)
    dns_over_lb: tuple[float, ...] = ()  # converged passes, alternate runs (the first size only)
    dns_over_lb_dynamic: tuple[float, ...] = ()  # the same, a host port a task
    floor_ms: float = 0.0  # floor_walk's median CPU time

    def steady(self, planner: str) -> Row:
        """The planner's converged pass (what a controller does at every pass), or its only case."""
        mine = [r for r in self.rows if r.planner == planner]
        return next((r for r in mine if r.case.endswith("converged")), mine[0])

    def peak_mib(self, planner: str) -> float:
        return max(r.peak_mib for r in self.rows if r.planner == planner)


class Collections:
    """CPU time the cyclic garbage collector takes while this is installed (gc.callbacks)."""

    def __init__(self) -> None:
        self.ms = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: Mapping[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.ms += (time.process_time() - self._started) * 1000


def cpu_ms(work: Callable[[], object], runs: int) -> tuple[float, float]:
    """The median CPU time of `runs` runs, and the median of the garbage collector's part in it.
    A planner is pure computation on one thread: CPU time is its cost, and unlike wall time it
    does not count what other jobs of a shared machine take of the cores while it runs."""
    timings, collecting = [], []
    for _ in range(runs):
        collector = Collections()
        gc.callbacks.append(collector)
        try:
            started = time.process_time()
            work()
            timings.append((time.process_time() - started) * 1000)
        finally:
            gc.callbacks.remove(collector)
        collecting.append(collector.ms)
    return statistics.median(timings), statistics.median(collecting)


def python_calls(work: Callable[[], object]) -> int:
    profile = cProfile.Profile()
    profile.runcall(work)
    calls: int = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    return calls


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def one_size(tasks: int) -> Size:
    """Every planner at one size, in this process."""
    instances, services = tasks // TASKS_PER_HOST, tasks // TASKS_PER_SERVICE
    imports_mib = max_rss_mib()
    snap = synthetic_snapshot(tasks, instances, services)
    cases = [("lb-sync", name, work) for name, work in lbsync_cases(snap)]
    cases += [("dns-sync", name, work) for name, work in dns_cases(snap, services)]
    cases += [("agents", name, work) for name, work in agents_cases(snap)]
    rows = [row(*case) for case in cases]
    floor_ms, _ = cpu_ms(lambda: floor_walk(snap), FLOOR_RUNS)
    rss_mib = max_rss_mib()
    ratios = alternate(converged_cases(cases)) if tasks == SIZES[0] else ()
    others: list[Row] = []
    dynamic_ratios: tuple[float, ...] = ()
    if tasks == SIZES[0]:  # last: a second snapshot would change the others' heap (and collections)
        many = synthetic_snapshot(tasks, instances, MANY_SERVICES)
        others += [row("lb-sync", name, work) for name, work in lbsync_cases(many)[1:]]
        del many
        dynamic = synthetic_snapshot(tasks, instances, services, dynamic_ports=True)
        dynamic_cases = [(planner, name.replace("services,", "services, a host port a task,"), work)
                         for planner, found in (("lb-sync", lbsync_cases(dynamic)),
                                                ("dns-sync", dns_cases(dynamic, services)))
                         for name, work in found[1:]]
        others += [row(*case) for case in dynamic_cases]
        dynamic_ratios = alternate(converged_cases(dynamic_cases))
    return Size(tasks, instances, services, imports_mib, rss_mib, tuple(rows), tuple(others), ratios,
                dynamic_ratios, floor_ms)


def converged_cases(cases: Sequence[tuple[str, str, Callable[[], int]]]) -> dict[str, Callable[[], int]]:
    """Each planner's converged pass, by planner."""
    return {planner: work for planner, name, work in cases if name.endswith("converged")}


def alternate(converged: Mapping[str, Callable[[], int]]) -> tuple[float, ...]:
    """dns-sync's converged pass over lb-sync's, one of each in turn, ALTERNATIONS times: each
    ratio is of two runs a few milliseconds apart, so what the machine does meanwhile weighs on
    both (one run's medians of 5, taken a planner after the other, moved it by a tenth)."""
    ratios = []
    for _ in range(ALTERNATIONS):
        lb, _ = cpu_ms(converged["lb-sync"], 1)
        dns, _ = cpu_ms(converged["dns-sync"], 1)
        ratios.append(dns / lb)
    return tuple(ratios)


def spread(ratios: Sequence[float]) -> str:
    ordered = sorted(ratios)
    return f"median {statistics.median(ordered):.2f}, {ordered[0]:.2f} to {ordered[-1]:.2f}"


def row(planner: str, name: str, work: Callable[[], int]) -> Row:
    ms, gc_ms = cpu_ms(work, RUNS)
    return Row(planner, name, work(), ms, gc_ms, measure(work, 1).peak_mib, python_calls(work))


def run_size(tasks: int) -> Size:
    """`one_size` in a process of its own."""
    out = subprocess.run([sys.executable, __file__, "--one", str(tasks)], check=True, capture_output=True,
                         text=True).stdout
    found = json.loads(out)
    return Size(**{**found, "rows": tuple(Row(**r) for r in found["rows"]),
                   "others": tuple(Row(**r) for r in found["others"]), "dns_over_lb": tuple(found["dns_over_lb"]),
                   "dns_over_lb_dynamic": tuple(found["dns_over_lb_dynamic"])})


def ex_gc(size: Size, planner: str) -> float:
    return size.steady(planner).median_ms - size.steady(planner).gc_ms


def chart(results: Sequence[Size], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [r.tasks for r in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for planner, color in zip(PLANNERS, ("tab:blue", "tab:orange", "tab:green"), strict=True):
        left.plot(tasks, [ex_gc(r, planner) for r in results], marker="o", color=color,
                  label=f"{planner}, converged pass, collector excluded")
        left.plot(tasks, [r.steady(planner).median_ms for r in results], linestyle=":", color=color,
                  label=f"{planner}, with the garbage collector")
        right.plot(tasks, [r.peak_mib(planner) for r in results], marker="o", color=color,
                   label=f"{planner}: allocated by it")
    left.plot(tasks, [r.floor_ms for r in results], marker="s", color="grey",
              label="floor: reaching each task's objects, nothing computed")
    right.plot(tasks, [r.rss_mib for r in results], marker="s", color="black", label="whole process: peak resident")
    right.plot(tasks, [r.imports_mib for r in results], linestyle="--", color="grey",
               label="whole process: before the snapshot")
    left.set(title="Planning time", xlabel="tasks (10 a host)", ylabel="median CPU ms")
    right.set(title="Memory", xlabel="tasks (10 a host)", ylabel="MiB")
    for axes in (left, right):
        axes.set_xticks(tasks)
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    fig.suptitle(f"ecsfleet's pure planners ({machine()})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


COUNTED_PASSES = 8


def count_passes(planner: str, tasks: int, dynamic: bool, passes: int) -> None:
    """`passes` converged passes of one planner, after the one its cases make (run under
    valgrind by `instructions`)."""
    snap = synthetic_snapshot(tasks, tasks // TASKS_PER_HOST, tasks // TASKS_PER_SERVICE, dynamic_ports=dynamic)
    cases = lbsync_cases(snap) if planner == "lb-sync" else dns_cases(snap, tasks // TASKS_PER_SERVICE)
    work = cases[1][1]
    for _ in range(passes + 1):
        work()


def counted(planner: str, tasks: int, dynamic: bool, passes: int) -> int:
    """Instructions of `count_passes` in a process of its own, by valgrind (cachegrind, no cache
    simulation), with a fixed hash seed: within 0.5% from one run to the next."""
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", sys.executable,
         __file__, "--count", planner, str(tasks), "dynamic" if dynamic else "main", str(passes)],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    (refs,) = re.findall(r"I\s+refs:\s+([\d,]+)", done.stderr)
    return int(refs.replace(",", ""))


# (tasks, a host port a task): the snapshots whose converged passes are counted
COUNTED = ((SIZES[0], False), (SIZES[0], True), (SIZES[-1], False))


def instructions() -> dict[tuple[str, int, bool], float]:
    """Millions of instructions one converged pass of lb-sync and of dns-sync executes on each
    snapshot of COUNTED: a run of COUNTED_PASSES passes less a run of none, over COUNTED_PASSES."""
    runs = [(planner, tasks, dynamic) for tasks, dynamic in COUNTED for planner in ("lb-sync", "dns-sync")]
    with ThreadPoolExecutor(2) as pool:
        none = pool.map(lambda run: counted(*run, 0), runs)
        some = pool.map(lambda run: counted(*run, COUNTED_PASSES), runs)
        return {run: (b - a) / COUNTED_PASSES / 1e6 for run, a, b in zip(runs, list(none), list(some), strict=True)}


def instructions_table(counts: Mapping[tuple[str, int, bool], float]) -> str:
    rows = [(f"{tasks:,}" + (", a host port a task" if dynamic else ""), f"{counts['lb-sync', tasks, dynamic]:.1f}",
             f"{counts['dns-sync', tasks, dynamic]:.1f}",
             f"{counts['dns-sync', tasks, dynamic] / counts['lb-sync', tasks, dynamic]:.2f}")
            for tasks, dynamic in COUNTED]
    first, last = SIZES[0], SIZES[-1]
    growth = ", ".join(f"{p} {counts[p, last, False] / counts[p, first, False]:.2f}x" for p in ("lb-sync", "dns-sync"))
    return (markdown_table(["converged pass, tasks", "lb-sync M instructions", "dns-sync M instructions",
                            "dns-sync / lb-sync"], rows)
            + f"\n\ninstructions from {first:,} to {last:,} tasks: {growth}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chart", type=Path, help="write a PNG chart of time and memory against task count")
    parser.add_argument("--instructions", action="store_true",
                        help="also count the instructions of lb-sync's and dns-sync's converged passes (valgrind)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one size, as JSON (run by the script itself)
    # planner, tasks, snapshot, passes (run under valgrind by --instructions)
    parser.add_argument("--count", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count:
        planner, tasks, snapshot, passes = args.count
        count_passes(planner, int(tasks), snapshot == "dynamic", int(passes))
        return
    if args.instructions and not shutil.which("valgrind"):
        parser.error("--instructions needs valgrind on the PATH (Debian: apt-get install valgrind)")
    if args.one:
        print(json.dumps(dataclasses.asdict(one_size(args.one))))
        return
    results = [run_size(tasks) for tasks in SIZES]
    first, last = results[0], results[-1]
    print(f"Pure planners on {first.tasks:,} tasks, {first.instances:,} instances ({machine()})")
    print(markdown_table(["planner", "actions / changes / candidates", f"median CPU ms ({RUNS} runs)",
                          "of which GC ms", "peak MiB", "Python calls"],
                         [(f"{r.planner}, {r.case}", r.work, f"{r.median_ms:.1f}", f"{r.gc_ms:.1f}",
                           f"{r.peak_mib:.1f}", str(r.calls)) for r in first.rows + first.others]))
    print()
    print("Converged pass by size, each size in a process of its own (peak RSS: ru_maxrss)")
    print(markdown_table(
        ["tasks", "instances", "services", *(f"{p} CPU ms (GC)" for p in PLANNERS),
         *(f"{p} peak MiB" for p in PLANNERS), "process peak RSS MiB", "of which before the snapshot MiB"],
        [(str(r.tasks), str(r.instances), str(r.services),
          *(f"{r.steady(p).median_ms:.1f} ({r.steady(p).gc_ms:.0f})" for p in PLANNERS),
          *(f"{r.peak_mib(p):.1f}" for p in PLANNERS), f"{r.rss_mib:.0f}", f"{r.imports_mib:.0f}")
         for r in results]))
    print()
    ratios = ", ".join(f"{p} {last.steady(p).median_ms / first.steady(p).median_ms:.2f}x time "
                       f"({ex_gc(last, p) / ex_gc(first, p):.2f}x without GC), "
                       f"{last.steady(p).calls / first.steady(p).calls:.2f}x calls" for p in PLANNERS)
    print(f"{last.tasks:,} / {first.tasks:,} tasks, converged pass: {ratios} (tasks and instances: "
          f"{last.tasks / first.tasks:.0f}x)")
    floors = ", ".join(f"{r.floor_ms:.2f} ms at {r.tasks:,}" for r in results)
    print(f"floor (a loop reaching each task's statuses, host and port bindings, computing nothing; median of "
          f"{FLOOR_RUNS}): {floors}: {last.floor_ms / first.floor_ms:.2f}x from {first.tasks:,} to "
          f"{last.tasks:,} tasks")
    print(f"dns-sync / lb-sync at {first.tasks:,} tasks, same process: "
          f"{first.steady('dns-sync').median_ms / first.steady('lb-sync').median_ms:.2f} (medians above); "
          f"{len(first.dns_over_lb)} alternate runs of each: {spread(first.dns_over_lb)}; a host port a task, "
          f"alternate runs: {spread(first.dns_over_lb_dynamic)}")
    if args.instructions:
        print()
        print(f"Machine instructions of a converged pass (valgrind, {COUNTED_PASSES} passes less none)")
        print(instructions_table(instructions()))
    if args.chart:
        chart(results, args.chart)
        print(f"chart: {args.chart}")


if __name__ == "__main__":
    main()

"""lb-sync's pure planner."""

from __future__ import annotations

from builders import host, snapshot, task
from ecsfleet.lbsync.plan import (
    Deregister,
    HealthCheck,
    Listener,
    LoadBalancer,
    MoveListener,
    Register,
    SetBackendPolicies,
    SetHealthCheck,
    plan,
)
from ecsfleet.lbsync.refusals import RefusedInstances, without_registrations
from ecsfleet.lbsync.services import ServiceEntry
from ecsfleet.snapshot import ContainerInstance, Task

WEB = ServiceEntry(serviceName="web", family="web", exposedContainerName="web", loadBalancerName="web-lb")
CHECK = HealthCheck("HTTP:8080/health", 10, 5, 2, 3)


def lb(port: int = 8080, instances: tuple[str, ...] = (), policies: tuple[str, ...] = ("sticky",)) -> LoadBalancer:
    check = CHECK.on_port(port)
    return LoadBalancer(
        "web-lb",
        (Listener("HTTP", 80, "HTTP", port, None, policies),
         Listener("HTTPS", 443, "HTTP", port, "arn:aws:acm:cert", ())),
        check, frozenset(instances), {port: ("backend-auth",)},
    )


def test_first_task_registers_host_then_aims_check_then_moves_listeners() -> None:
    h1, h2 = host(1), host(2)
    result = plan(snapshot([h1, h2], [task(1, h1, 32768)]), [WEB], {"web-lb": lb()}, {"i-0001", "i-0002"})
    assert result.actions == (
        Register("web-lb", ("i-0001",)),
        SetHealthCheck("web-lb", HealthCheck("HTTP:32768/health", 10, 5, 2, 3), "HTTP:8080/health"),
        SetBackendPolicies("web-lb", 32768, ("backend-auth",)),
        MoveListener("web-lb", lb().listeners[0], 32768),
        MoveListener("web-lb", lb().listeners[1], 32768),
    )
    assert result.warnings == ()


def test_converged_plans_nothing() -> None:
    h1 = host(1)
    converged = LoadBalancer("web-lb", (Listener("HTTP", 80, "HTTP", 32768),),
                             HealthCheck("HTTP:32768/health", 10, 5, 2, 3), frozenset({"i-0001"}))
    assert plan(snapshot([h1], [task(1, h1, 32768)]), [WEB], {"web-lb": converged}, {"i-0001"}).actions == ()


def test_newest_running_task_wins_during_a_rolling_deploy() -> None:
    h1 = host(1)
    old = task(1, h1, 32768, revision=1, started=0)
    new = task(2, h1, 32769, revision=2, started=60)
    result = plan(snapshot([h1], [old, new]), [WEB], {"web-lb": lb(32768, ("i-0001",))}, {"i-0001"})
    assert {a.instance_port for a in result.actions if isinstance(a, MoveListener)} == {32769}


def test_new_task_not_yet_healthy_does_not_take_traffic() -> None:
    h1 = host(1)
    old = task(1, h1, 32768, revision=1, started=0, checked=True, health="HEALTHY")
    new = task(2, h1, 32769, revision=2, started=60, checked=True, health="UNKNOWN")
    pending = task(3, h1, None, revision=2, started=90, last="PENDING")
    current = LoadBalancer("web-lb", (Listener("HTTP", 80, "HTTP", 32768),),
                           HealthCheck("HTTP:32768/health", 10, 5, 2, 3), frozenset({"i-0001"}))
    assert plan(snapshot([h1], [old, new, pending]), [WEB], {"web-lb": current}, {"i-0001"}).actions == ()


def test_stopping_task_and_draining_host_leave_at_once() -> None:
    h1, h2 = host(1), host(2, status="DRAINING")
    stopping = task(1, h1, 32768, desired="STOPPED")
    draining = task(2, h2, 32768)
    current = LoadBalancer("web-lb", (Listener("HTTP", 80, "HTTP", 32768),), None, frozenset({"i-0001", "i-0002"}))
    result = plan(snapshot([h1, h2], [stopping, draining]), [WEB], {"web-lb": current}, {"i-0001", "i-0002"})
    assert result.actions == (Deregister("web-lb", ("i-0001", "i-0002")),)


def test_hosts_on_another_port_are_not_registered_and_are_named() -> None:
    h1, h2 = host(1), host(2)
    result = plan(snapshot([h1, h2], [task(1, h1, 32768, started=0), task(2, h2, 32770, started=10)]), [WEB],
                  {"web-lb": lb(32770, ("i-0001", "i-0002"))}, {"i-0001", "i-0002"})
    assert result.actions == (Deregister("web-lb", ("i-0001",)),)
    assert len(result.warnings) == 1 and "i-0001" in result.warnings[0] and "32770" in result.warnings[0]


def test_out_of_scope_hosts_are_never_touched() -> None:
    h1, h2 = host(1), host(2)
    # Per-host mode on h1: h2 (another agent's) and i-9999 (not in the cluster) stay registered.
    current = LoadBalancer("web-lb", (Listener("HTTP", 80, "HTTP", 32768),), None,
                           frozenset({"i-0001", "i-0002", "i-9999"}))
    result = plan(snapshot([h1, h2], [task(2, h2, 32768)]), [WEB], {"web-lb": current}, {"i-0001"})
    assert result.actions == (Deregister("web-lb", ("i-0001",)),)


def test_container_port_picks_the_binding_and_missing_container_warns() -> None:
    h1 = host(1)
    entry = ServiceEntry(family="web", exposedContainerName="web", loadBalancerName="web-lb", containerPort=9090)
    t = task(1, h1, 32768, container_port=80)
    result = plan(snapshot([h1], [t]), [entry], {"web-lb": lb(32768, ("i-0001",))}, {"i-0001"})
    assert result.actions == (Deregister("web-lb", ("i-0001",)),)
    assert "container port 9090" in result.warnings[0]
    other = ServiceEntry(family="web", exposedContainerName="sidecar", loadBalancerName="web-lb")
    assert "no container 'sidecar'" in plan(snapshot([h1], [t]), [other], {"web-lb": lb()}, {"i-0001"}).warnings[0]


def test_tcp_health_check_keeps_its_shape() -> None:
    assert HealthCheck("TCP:8080", 30, 5, 2, 10).on_port(32768) == HealthCheck("TCP:32768", 30, 5, 2, 10)
    assert HealthCheck("HTTPS:443/a/b?c", 5, 2, 3, 4).on_port(1) == HealthCheck("HTTPS:1/a/b?c", 5, 2, 3, 4)


def test_held_back_registrations_leave_the_other_actions() -> None:
    actions = (Register("web-lb", ("i-0001", "i-0002")), Register("api-lb", ("i-0002",)),
               Deregister("web-lb", ("i-0003",)))
    assert without_registrations(actions, {("web-lb", "i-0002"), ("api-lb", "i-0002")}) == (
        Register("web-lb", ("i-0001",)), Deregister("web-lb", ("i-0003",)))
    memory = RefusedInstances()
    assert memory.hold_back(actions) == (actions, ())
    memory.record({("web-lb", "i-0002"): "InvalidInstance: gone"})
    kept, warnings = memory.hold_back(actions)  # the next pass does not try it again
    assert kept == (Register("web-lb", ("i-0001",)), *actions[1:])
    assert warnings == ("i-0002 is not registered with web-lb: ELB refused it (InvalidInstance: gone); "
                        "trying again in 1 pass(es)",)
    assert memory.hold_back(actions) == (actions, ())  # the pass after does
    # Once no longer planned, a refusal is forgotten: the instance is tried at once if it returns.
    memory.record({("web-lb", "i-0002"): "InvalidInstance: gone"})
    memory.hold_back(actions[1:])
    assert memory.hold_back(actions) == (actions, ())


def test_services_whose_tasks_are_interleaved_each_get_their_own_newest_task_and_hosts() -> None:
    """One pass over the tasks serves every entry: each entry's newest task, hosts and warnings
    are its own, whatever the order of the tasks."""
    h1, h2, h3 = host(1), host(2), host(3)
    api = ServiceEntry(serviceName="api", family="api", exposedContainerName="api", loadBalancerName="api-lb")
    def of_api(n: int, on: ContainerInstance, port: int, started: int) -> Task:
        return task(n, on, port, family="api", container="api", service="api", started=started)

    tasks = [task(1, h1, 32768, started=10), of_api(2, h2, 40000, started=5),
             task(3, h2, 32768, started=0), of_api(4, h3, 40001, started=50),
             task(5, h3, 32768, container="other", started=99)]
    empty = {name: LoadBalancer(name, (Listener("HTTP", 80, "HTTP", 8080),), None, frozenset())
             for name in ("web-lb", "api-lb")}
    result = plan(snapshot([h1, h2, h3], tasks), [WEB, api], empty, {"i-0001", "i-0002", "i-0003"})
    assert result.actions == (
        Register("web-lb", ("i-0001", "i-0002")),
        MoveListener("web-lb", Listener("HTTP", 80, "HTTP", 8080), 32768),
        Register("api-lb", ("i-0003",)),
        MoveListener("api-lb", Listener("HTTP", 80, "HTTP", 8080), 40001),
    )
    assert result.warnings == (
        "web: task t5 has no container 'web'",
        "api: i-0002 run it only on other host ports than 40001; a Classic ELB has one instance port, so they "
        "are not registered with api-lb",
    )


# ---- listeners of both kinds of instance protocol ---------------------------------------------
# AWS refuses listeners sharing an instance port whose instance protocols are not all secure
# (HTTPS, SSL) or all plain (HTTP, TCP): the kind the port does not take stays where it is.

PLAIN = Listener("HTTP", 80, "HTTP", 8080)
TLS = Listener("SSL", 8443, "SSL", 8443, "arn:aws:acm:cert")
TLS_TOO = Listener("HTTPS", 443, "HTTPS", 8443, "arn:aws:acm:cert")


def mixed(check: str | None, *listeners: Listener) -> dict[str, LoadBalancer]:
    health = HealthCheck(check, 10, 5, 2, 3) if check else None
    return {"web-lb": LoadBalancer("web-lb", listeners, health, frozenset({"i-0001"}))}


def moved(actions: tuple[object, ...]) -> set[int]:
    return {a.listener.load_balancer_port for a in actions if isinstance(a, MoveListener)}


def test_listeners_of_the_kind_the_health_check_does_not_speak_stay_with_a_warning() -> None:
    h1 = host(1)
    for check, moving, staying in [("HTTP:8080/health", {80}, TLS), ("SSL:8443", {8443}, PLAIN),
                                   ("HTTPS:8443/health", {8443}, PLAIN)]:
        result = plan(snapshot([h1], [task(1, h1, 32768)]), [WEB], mixed(check, PLAIN, TLS), {"i-0001"})
        assert moved(result.actions) == moving, check
        (warning,) = result.warnings
        assert warning.startswith(f"web-lb: listener {staying.load_balancer_port} (") and \
            f"stays on instance port {staying.instance_port}" in warning, warning


def test_with_a_tcp_check_the_listeners_on_the_port_then_the_most_listeners_decide() -> None:
    h1 = host(1)
    snap = snapshot([h1], [task(1, h1, 32768)])
    assert moved(plan(snap, [WEB], mixed("TCP:8080", PLAIN, TLS, TLS_TOO), {"i-0001"}).actions) == {443, 8443}
    assert moved(plan(snap, [WEB], mixed("TCP:8080", PLAIN, TLS), {"i-0001"}).actions) == {80}  # a tie: plain
    assert moved(plan(snap, [WEB], mixed(None, PLAIN, TLS), {"i-0001"}).actions) == {80}
    on_port = Listener("SSL", 8443, "SSL", 32768, "arn:aws:acm:cert")
    result = plan(snap, [WEB], mixed("TCP:32768", PLAIN, on_port), {"i-0001"})
    assert moved(result.actions) == set() and len(result.warnings) == 1


def test_a_listener_of_the_other_kind_already_on_the_port_holds_every_move_back() -> None:
    h1 = host(1)
    on_port = Listener("SSL", 8443, "SSL", 32768, "arn:aws:acm:cert")
    result = plan(snapshot([h1], [task(1, h1, 32768)]), [WEB], mixed("HTTP:32768/health", PLAIN, on_port),
                  {"i-0001"})
    assert moved(result.actions) == set()
    (warning,) = result.warnings
    assert "listener 80 (HTTP to HTTP instances) stays on instance port 8080" in warning
    assert "a listener already on port 32768 uses the other kind" in warning


def test_listeners_of_one_kind_all_move_whatever_the_check() -> None:
    h1 = host(1)
    result = plan(snapshot([h1], [task(1, h1, 32768)]), [WEB], mixed("SSL:8443", TLS, TLS_TOO), {"i-0001"})
    assert moved(result.actions) == {443, 8443} and result.warnings == ()

"""agents under faults: throttling and 5xx on every operation a pass calls (with the lease), an
agent that disconnects or a host that is terminated in the middle of a roll-out; instances of
clusters the run was not given are never updated."""

from __future__ import annotations

from collections import Counter

import pytest

from ecsfleet.agents.lease import Lease
from ecsfleet.agents.rollout import AgentUpdates
from ecsfleet.aws import Clients
from ecsfleet.runner import safe_pass
from ecsfleet.sandbox import Sandbox
from faults import (
    ATTEMPTS,
    Op,
    RetryWaits,
    before_first,
    exhaust,
    fault_suite,
    op_id,
    report_text,
    within_budget,
)
from support import cluster_with_instances
from test_agents import versions

CLUSTERS = ("alpha", "beta")
TABLE = "leases"

# What one pass over `agents_world` calls, every cluster of the account (`--all`) with a lease
# table: every operation `agents update` uses. A test checks this against a clean pass, so the
# list cannot go stale.
CLEAN_PASS: Counter[Op] = Counter({
    ("ecs", "ListClusters"): 1, ("dynamodb", "PutItem"): 2, ("ecs", "ListContainerInstances"): 2,
    ("ecs", "DescribeContainerInstances"): 2, ("ecs", "UpdateContainerAgent"): 2,
    ("dynamodb", "DeleteItem"): 2,
})
OPS = sorted(CLEAN_PASS)


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> RetryWaits:
    return fault_suite(monkeypatch)


def agents_world(sb: Sandbox, clusters: tuple[str, ...] = CLUSTERS) -> dict[str, list[str]]:
    """Clusters of two instances each, all on the old agent, and the lease table."""
    hosts = {name: cluster_with_instances(sb, name, count=2) for name in clusters}
    sb.client("dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "lease", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "lease", "KeyType": "HASH"}])
    return hosts


def runner(clients: Clients, clusters: tuple[str, ...] | None = None) -> AgentUpdates:
    return AgentUpdates(clients, clusters, lease=Lease(clients("dynamodb"), TABLE))


def rolling(sb: Sandbox, cluster: str) -> list[str]:
    return sorted(i for i, (_, status) in versions(sb, cluster).items() if status == "PENDING")


def assert_one_rolling_per_cluster_and_no_lease_left(sb: Sandbox) -> None:
    """Where a fault-free pass leaves the fleet: one update rolling in every cluster (never two),
    and every lease given back."""
    for cluster in CLUSTERS:
        assert len(rolling(sb, cluster)) == 1, versions(sb, cluster)
    assert sb.client("dynamodb").scan(TableName=TABLE)["Items"] == []


def test_the_fault_list_is_exactly_what_a_clean_pass_calls(sb: Sandbox, clients: Clients) -> None:
    agents_world(sb)
    sb.reset_calls()
    report = safe_pass(runner(clients), dry_run=False)
    assert report.ok, report.summary()
    assert sb.calls() == CLEAN_PASS
    assert_one_rolling_per_cluster_and_no_lease_left(sb)


@pytest.mark.parametrize("op", OPS, ids=op_id)
def test_every_operation_throttled_or_failing_loses_no_update(
    sb: Sandbox, clients: Clients, waits: RetryWaits, op: Op
) -> None:
    agents_world(sb)
    # One runner for both passes, as a daemon keeps it: a lease whose release failed is still
    # its own to take again (another run would wait for it to expire).
    updates = runner(clients)
    sb.reset_calls()
    exhaust(sb, op)

    report = safe_pass(updates, dry_run=False)

    # 5xx on every attempt: retried to the end of the budget, then reported, naming the call.
    assert not report.ok
    assert len(waits.backoffs) == ATTEMPTS - 1
    assert op[1] in report_text(report), report.summary()
    if op != ("ecs", "ListClusters"):
        # The first cluster's failure is its own: the other cluster still gets its update.
        failed = {o.target for o in report.outcomes if not o.ok}
        assert failed == {"alpha"}, report.summary()
        assert [(o.kind, o.ok) for o in report.outcomes if o.target == "beta"] == [("update", True)]
        assert len(rolling(sb, "beta")) == 1 and len(rolling(sb, "alpha")) <= 1

    # The next pass meets throttles and 5xx on the same call for all but the last attempt of
    # its budget: it retries them away and finishes where a fault-free pass would have.
    waits.backoffs.clear()
    within_budget(sb, op)
    report = safe_pass(updates, dry_run=False)
    assert report.ok, report.summary()
    assert len(waits.backoffs) == ATTEMPTS - 1
    assert_one_rolling_per_cluster_and_no_lease_left(sb)


def test_agent_disconnected_mid_roll_out_holds_its_cluster_until_it_is_back(sb: Sandbox, clients: Clients) -> None:
    hosts = agents_world(sb, (*CLUSTERS, "gamma"))
    named = runner(clients, CLUSTERS)
    assert safe_pass(named, dry_run=False).ok  # one update rolling in each named cluster
    (first,) = rolling(sb, "alpha")
    sb.disconnect_agent(first)  # in the middle of its own update
    sb.advance(20)  # beta's update finishes; alpha's cannot report progress

    report = safe_pass(named, dry_run=False)

    # alpha is held, saying why and naming the instance; beta carries on with its next one.
    assert not report.ok
    (held,) = [o for o in report.outcomes if o.target == "alpha"]
    assert held.kind == "cluster" and not held.ok and f"agent disconnected on {first}" in (held.error or "")
    assert any(first in w for w in report.warnings)
    assert [(o.kind, o.ok) for o in report.outcomes if o.target == "beta"] == [("update", True)]
    assert rolling(sb, "alpha") == [first]  # nothing else started beside it

    sb.reconnect_agent(first)
    sb.advance(20)  # its update completes once it is back
    for _ in range(2):
        assert safe_pass(named, dry_run=False).ok
        sb.advance(20)
    latest = sb.timings.latest_agent_version
    for cluster in CLUSTERS:
        assert {v for v, _ in versions(sb, cluster).values()} == {latest}
    # A cluster the run was not given is never touched.
    assert versions(sb, "gamma") == {h: (sb.timings.initial_agent_version, None) for h in hosts["gamma"]}


def test_agent_disconnected_between_observe_and_update(sb: Sandbox, clients: Clients) -> None:
    hosts = agents_world(sb, CLUSTERS[:1])
    named = runner(clients, CLUSTERS[:1])
    # The pass saw a healthy cluster; an agent drops before the update call lands.
    target = min(hosts["alpha"])  # the first candidate: same version, lowest id
    before_first(clients, ("ecs", "UpdateContainerAgent"), lambda: sb.disconnect_agent(target))

    report = safe_pass(named, dry_run=False)

    # The update call is refused for that instance: reported on it, and nothing else is started.
    assert report.errors == (), report.summary()
    (outcome,) = report.outcomes
    assert outcome.kind == "update" and not outcome.ok
    assert f"agent update of {target} in alpha failed: ClientException" in (outcome.error or "")
    assert rolling(sb, "alpha") == []
    sb.reconnect_agent(target)
    sb.advance(20)
    for _ in range(3):  # the rest of the roll-out: one instance a pass
        assert safe_pass(named, dry_run=False).ok
        sb.advance(20)
    assert {v for v, _ in versions(sb, "alpha").values()} == {sb.timings.latest_agent_version}


def test_instance_terminated_mid_roll_out(sb: Sandbox, clients: Clients) -> None:
    hosts = agents_world(sb, CLUSTERS[:1])
    named = runner(clients, CLUSTERS[:1])
    assert safe_pass(named, dry_run=False).ok
    (first,) = rolling(sb, "alpha")
    sb.terminate_instance(first)  # its update never finishes: the instance is gone

    report = safe_pass(named, dry_run=False)

    # The dead instance is no longer in the cluster, so nothing waits for it: the survivor updates.
    (survivor,) = [h for h in hosts["alpha"] if h != first]
    assert report.ok and [o.detail for o in report.outcomes] == [
        f"agent update requested on {survivor} in alpha (from {sb.timings.initial_agent_version})"], report.summary()
    sb.advance(20)
    assert versions(sb, "alpha") == {survivor: (sb.timings.latest_agent_version, "UPDATED")}

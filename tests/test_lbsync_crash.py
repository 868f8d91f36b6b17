"""lb-sync killed (SIGKILL: OOM, a Lambda timeout, `docker kill`) at every step of a pass that
registers a host, aims the health check, carries backend policies over and moves three listeners
(one with a certificate, one with a policy): one more pass, by another process, must leave every
listener on the task's port with its protocols, certificate and policies, the health check right,
and no record of a move behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ecsfleet.aws import Clients
from ecsfleet.runner import safe_pass
from ecsfleet.sandbox import Sandbox
from support import running_tasks
from test_lbsync import ELB_WRITES, controller, describe_lb, elb_writes, host_of, three_listeners, web_world

# The subprocess's entry: a real `ecsfleet lb-sync --once` whose botocore client kills its own
# process just before its Nth ELB write call, as SIGKILL would at that moment. Only this test's
# subprocess reads LBSYNC_KILL_AT; the product has no such hook.
ENTRY = """
import os, signal, sys
import botocore.client
kill_at, writes, count = int(os.environ["LBSYNC_KILL_AT"]), set(sys.argv[1].split(",")), 0
make_api_call = botocore.client.BaseClient._make_api_call
def counting(self, operation, params):
    global count
    if operation in writes:
        count += 1
        if count == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    return make_api_call(self, operation, params)
botocore.client.BaseClient._make_api_call = counting
from ecsfleet.cli import main
sys.exit(main(sys.argv[2:]))
"""
# What a clean pass writes here: register, health check, backend policies, then per listener
# (80 with a policy, 443 with a certificate, 9000 TCP) record, delete, create, [policies], forget.
CLEAN_WRITES = 16


def run_killed(services: Path, kill_at: int) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", ENTRY, ",".join(sorted(ELB_WRITES)),
            "lb-sync", "--once", "--all-instances", "--cluster", "test", "--services", str(services)]
    return subprocess.run(argv, env={**os.environ, "LBSYNC_KILL_AT": str(kill_at)}, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("kill_at", range(1, CLEAN_WRITES + 2))
def test_killed_before_any_write_the_next_pass_leaves_every_listener_whole(
    sb: Sandbox, clients: Clients, tmp_path: Path, kill_at: int
) -> None:
    web_world(sb, hosts=1)
    before = three_listeners(sb)
    (task,) = running_tasks(sb, "test")
    port = task["containers"][0]["networkBindings"][0]["hostPort"]
    services = tmp_path / "services.json"
    services.write_text('[{"serviceName": "web", "family": "web", "exposedContainerName": "web", '
                        '"loadBalancerName": "web-lb"}]')
    sb.reset_calls()

    killed = run_killed(services, kill_at)

    if kill_at <= CLEAN_WRITES:
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert len(elb_writes(sb)) == kill_at - 1
    else:  # no kill: the count of writes above is what a clean pass makes
        assert killed.returncode == 0, killed.stderr
        assert len(elb_writes(sb)) == CLEAN_WRITES

    # One more pass, by another process (this one), from whatever the kill left.
    report = safe_pass(controller(clients), dry_run=False)
    assert report.ok, report.summary()

    lb = describe_lb(sb)
    after = {d["Listener"]["LoadBalancerPort"]: d for d in lb["ListenerDescriptions"]}
    assert set(after) == {80, 443, 9000}
    for lb_port, description in after.items():
        assert description["Listener"] == {**before[lb_port]["Listener"], "InstancePort": port}
        assert description["PolicyNames"] == before[lb_port]["PolicyNames"]
    assert after[80]["PolicyNames"] == ["sticky"] and after[443]["Listener"]["SSLCertificateId"]
    assert lb["HealthCheck"] == {"Target": f"HTTP:{port}/healthz", "Interval": 7, "Timeout": 3,
                                 "UnhealthyThreshold": 4, "HealthyThreshold": 2}
    assert {"InstancePort": port, "PolicyNames": ["proxy"]} in lb["BackendServerDescriptions"]
    assert [i["InstanceId"] for i in lb["Instances"]] == [host_of(sb, task)]
    assert sb.client("elb").describe_tags(LoadBalancerNames=["web-lb"])["TagDescriptions"][0]["Tags"] == []
    sb.reset_calls()
    again = safe_pass(controller(clients), dry_run=False)
    assert again.planned == () and elb_writes(sb) == [], again.summary()


def test_a_shutdown_during_a_move_lets_the_move_finish(sb: Sandbox, clients: Clients) -> None:
    """SIGTERM's grace period runs out right after a move's record is written (the deadline set
    to now): the move's delete and re-create still run (it is the pass's last change)."""
    from ecsfleet.aws import shorten_deadline

    web_world(sb, hosts=1)
    (task,) = running_tasks(sb, "test")
    port = task["containers"][0]["networkBindings"][0]["hostPort"]
    reconciler = controller(clients)
    clients("elb").meta.events.register("after-call.elastic-load-balancing.AddTags",
                                        lambda **_: shorten_deadline(0.0, "stopping on SIGTERM"))

    report = safe_pass(reconciler, dry_run=False)

    listener = describe_lb(sb)["ListenerDescriptions"][0]
    assert listener["Listener"]["InstancePort"] == port and listener["PolicyNames"] == ["sticky"]
    tags = clients("elb").describe_tags(LoadBalancerNames=["web-lb"])["TagDescriptions"][0]["Tags"]
    assert tags == []  # the move ended with its record removed
    assert report.ok, report.summary()


def test_a_deadline_refuses_a_change_before_its_first_call() -> None:
    from ecsfleet.aws import DeadlineReached, deadline, one_change

    with deadline(0.0, "pass deadline reached"), pytest.raises(DeadlineReached), one_change():
        raise AssertionError("the change began")

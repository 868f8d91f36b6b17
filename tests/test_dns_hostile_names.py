"""Names a container may not claim (a zone's apex, wildcards, names outside --domain-filter), owner
ids that would forge a registry record, and ecsd's ECS_HOSTED_ZONE."""

from __future__ import annotations

import pytest

from ecsd_world import NeverMissing, make_zone, served
from ecsfleet.aws import Clients
from ecsfleet.cli import main
from ecsfleet.dns.cli import ecsd_zone
from ecsfleet.dns.docker_source import DockerDnsSync
from ecsfleet.dns.endpoints import Endpoint, Host
from ecsfleet.dns.filters import NameRules, screen
from ecsfleet.dns.records import Zone
from ecsfleet.errors import UserError
from ecsfleet.runner import safe_pass
from ecsfleet.sandbox import Sandbox
from ownership import all_records
from support import cluster_with_instances, task_definition
from test_dns_ecsd_takeover import Engine

HOST = Host("i-0123456789abcdef0", "54.1.2.3", "10.0.0.7", "ip-10-0-0-7.ec2.internal")
ZONES = [Zone("Z1", "example.com.", False), Zone("Z2", "corp.example.com.", True)]


def endpoint(name: str, private: bool = False) -> Endpoint:
    return Endpoint(name, "A", "10.0.0.7", "i-1", private)


@pytest.mark.parametrize(("name", "rules", "published"), [
    ("api.example.com.", NameRules(), True),
    ("example.com.", NameRules(), False),  # the apex
    ("corp.example.com.", NameRules(), False),  # the apex of the longer zone it lands in
    ("example.com.", NameRules(allow_apex=True), True),
    ("*.example.com.", NameRules(), False),
    ("*.example.com.", NameRules(allow_wildcard=True), True),
    ("a.*.example.com.", NameRules(allow_apex=True), False),
    ("api.example.com.", NameRules.of(["corp.example.com"]), False),
    ("api.corp.example.com.", NameRules.of(["corp.example.com."]), True),
    ("corp.example.com.", NameRules.of(["corp.example.com"], allow_apex=True), True),
    ("xcorp.example.com.", NameRules.of(["corp.example.com"]), False),  # a suffix, not a domain
])
def test_screen(name: str, rules: NameRules, published: bool) -> None:
    kept, warnings = screen([endpoint(name, private=name.endswith("corp.example.com."))], ZONES, rules)
    assert bool(kept) == published
    assert len(warnings) == (0 if published else 1)
    assert all(name in w and "not published" in w for w in warnings)


def test_wildcard_and_apex_refused_by_default_and_allowed_by_flag(sb: Sandbox, clients: Clients) -> None:
    zone_id = make_zone(sb)
    engine = Engine()
    engine.run("wild", {"SERVICE_FQDN": "*.example.com"})
    engine.run("apex", {"SERVICE_FQDN_LOCAL": "example.com"})
    engine.run("ok", {"SERVICE_FQDN_LOCAL": "ok.example.com"})

    report = safe_pass(DockerDnsSync(clients, engine, HOST, "host/i-1"), dry_run=False)

    assert report.ok and served(sb, zone_id) == {("ok.example.com.", "A", "10.0.0.7")}
    assert any("*.example.com." in w and "--allow-wildcard" in w for w in report.warnings), report.warnings
    assert any(w.startswith("example.com.:") and "--allow-apex" in w for w in report.warnings), report.warnings

    rules = NameRules(allow_apex=True, allow_wildcard=True)
    assert safe_pass(DockerDnsSync(clients, engine, HOST, "host/i-1", names=rules), dry_run=False).ok
    assert {n for n, _, _ in served(sb, zone_id)} == {"ok.example.com.", "example.com.", "*.example.com."}


def test_domain_filter_publishes_and_deletes_only_under_its_domains(sb: Sandbox, clients: Clients) -> None:
    zone_id = make_zone(sb)
    engine = Engine()
    engine.run("a", {"SERVICE_FQDN_LOCAL": "a.team.example.com"})
    engine.run("b", {"SERVICE_FQDN_LOCAL": "b.example.com"})
    assert safe_pass(DockerDnsSync(clients, engine, HOST, "host/i-1"), dry_run=False).ok
    assert len(served(sb, zone_id)) == 2

    # With the filter, b.example.com is outside: not deleted although it is ours and wanted by no
    # container any more (the filter says what this agent manages at all); a.team is.
    engine.running.clear()
    watch = NeverMissing(sb, zone_id, clients, lambda: {("b.example.com.", "A", "10.0.0.7")})
    sb.reset_calls()
    report = safe_pass(DockerDnsSync(clients, engine, HOST, "host/i-1", names=NameRules.of(["team.example.com"])),
                       dry_run=False)
    assert report.ok and sb.count("route53", "ChangeResourceRecordSets") == 1
    watch.assert_none_missing()
    assert served(sb, zone_id) == {("b.example.com.", "A", "10.0.0.7")}


@pytest.mark.parametrize("owner", ['x",heritage=ecsfleet,ecsfleet/owner=victim', "a,b", "a b", "a=b", "a\\b", "",
                                   "-lead", "x" * 300])
def test_owner_ids_that_would_break_the_registry_are_refused(sb: Sandbox, owner: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dns-sync", "--cluster", "test", "--owner-id", owner, "--once"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: owner id") and "--owner-id" in err and "Traceback" not in err
    assert sb.count("route53", "ChangeResourceRecordSets") == 0
    with pytest.raises(UserError):
        DockerDnsSync(Clients.__new__(Clients), Engine(), HOST, owner)


def test_good_owner_ids_pass(sb: Sandbox, clients: Clients) -> None:
    for owner in ("ecs-cluster/prod_1", "host/i-0123", "team:payments@eu-west-1", "a+b.c"):
        DockerDnsSync(clients, Engine(), HOST, owner)


def test_bad_domain_filter_and_srv_ttl_are_usage_errors(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    for args, said in ((["--domain-filter", "*.example.com"], "--domain-filter"),
                       (["--domain-filter", "bad..name"], "--domain-filter"),
                       (["--srv-ttl", "-1"], "--srv-ttl")):
        assert main(["dns-sync", "--cluster", "test", "--once", *args]) == 2
        assert capsys.readouterr().err.startswith(f"error: {said}")


def test_ecs_hosted_zone_names_the_one_zone_managed(sb: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    kept, other = make_zone(sb, "example.com"), make_zone(sb, "example.org")
    cluster_with_instances(sb, count=1)
    sb.client("ecs").register_task_definition(**task_definition("api", memory=16, cpu=8, env={
        "SERVICE_FQDN_LOCAL": "api.example.com", "SERVICE_FQDN": "api.example.org"}))
    sb.client("ecs").run_task(cluster="test", taskDefinition="api")
    sb.advance(sb.timings.task_start_seconds)
    monkeypatch.setenv("ECS_HOSTED_ZONE", kept)  # what ecsd read; as with ecsd, that zone only

    assert main(["dns-sync", "--cluster", "test", "--once"]) == 0

    assert {(n, k) for n, k, _ in served(sb, kept)} == {("api.example.com.", "A")}
    assert not [k for k in all_records(sb, other) if k[1] in ("A", "TXT")]
    assert "api.example.org. is in no managed hosted zone" in capsys.readouterr().out
    assert ecsd_zone({"ECSD_HOSTED_ZONE_ID": " Z9 "}) == ("Z9",) and ecsd_zone({}) == ()

"""`ecsfleet dns-sync`: ecsd's DNS conventions, kept by one controller per cluster."""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Annotated

import typer

from ..command_summaries import SUMMARIES
from ..errors import UserError
from ..options import Interval, MetricsPort, Once, cluster_option, dry_run_option, run_mode, seconds
from .records import DEFAULT_TTL

if TYPE_CHECKING:  # the rest is imported by the command that runs: `dns-sync --help` needs none of it
    from ..aws import Clients
    from .docker_source import DockerDnsSync
    from .filters import NameRules

HELP = f"""{SUMMARIES["dns-sync"]}

--source ecs: one controller for a whole cluster, from the ECS API; one record set per name
holding every value. --source docker: one agent per host, as ecsd, from the local Docker
engine, reacting to Docker events and resyncing every interval; one multivalue record per
value, so agents on different hosts never overwrite each other.

Ownership as external-dns does it: a TXT record `_ecsfleet-<type>.<name>` beside each managed
record set names the owner id; record sets without it, or with another owner, are never
changed. `--policy upsert-only` never deletes.

Names containers may not claim: a hosted zone's apex and wildcard names are refused unless
--allow-apex / --allow-wildcard; with --domain-filter only names under those domains are
managed. Without --zone-id, ecsd's ECS_HOSTED_ZONE (or ECSD_HOSTED_ZONE_ID) names the one zone.
"""


class Source(enum.StrEnum):
    ecs = "ecs"
    docker = "docker"


class Policy(enum.StrEnum):
    sync = "sync"
    upsert_only = "upsert-only"


def default_owner(cluster: str) -> str:
    return f"ecs-cluster/{cluster}"


def dns_sync(
    ctx: typer.Context,
    source: Annotated[Source, typer.Option(help="Where containers are read from.")] = Source.ecs,
    cluster: Annotated[str | None, cluster_option("ECS cluster (ecs source).")] = None,
    once: Once = False,
    interval: Interval = None,
    zone_id: Annotated[list[str] | None, typer.Option(
        help="Manage only this hosted zone (repeatable; default: every zone the account has).")] = None,
    policy: Annotated[Policy, typer.Option(help="sync deletes what no container asks for; upsert-only never "
                                               "deletes.")] = Policy.sync,
    owner_id: Annotated[str | None, typer.Option(
        help="Owner id written in the TXT registry (default: ecs-cluster/<cluster>).")] = None,
    ttl: Annotated[int, typer.Option(help="TTL of the records, seconds.")] = DEFAULT_TTL,
    min_drain: Annotated[float | None, seconds(
        "Lead time, seconds, a service should keep serving after its stop is announced (its stopTimeout); "
        "services with less are warned about (default: the TTL).")] = None,
    dry_run: Annotated[bool, dry_run_option("Print the planned changes; change nothing.")] = False,
    events_queue: Annotated[str | None, typer.Option(
        help="SQS queue URL receiving ECS events: a pass runs as soon as one arrives.")] = None,
    metrics_port: MetricsPort = None,
    docker_host: Annotated[str | None, typer.Option(
        envvar="DOCKER_HOST", help="Docker engine (docker source; default unix:///var/run/docker.sock).")] = None,
    host_id: Annotated[str | None, typer.Option(help="This host's id (docker source; default: EC2 instance id "
                                                     "from instance metadata).")] = None,
    public_ip: Annotated[str | None, typer.Option(help="This host's public IP (default: metadata).")] = None,
    private_ip: Annotated[str | None, typer.Option(help="This host's private IP (default: metadata).")] = None,
    hostname: Annotated[str | None, typer.Option(help="SRV target host name (default: metadata local-hostname).")]
    = None,
    adopt_ecsd: Annotated[bool, typer.Option(
        "--adopt-ecsd", help="Take over records in ecsd's shape (weighted, Weight 100, SetIdentifier the IP or "
                             "host:port): the docker source keeps this host's in place; the ecs source converts a "
                             "name's into its one record set, in one atomic change.")] = False,
    srv_ttl: Annotated[int | None, typer.Option(
        help="TTL of the SRV records, seconds (default: ecsd's 0 with --adopt-ecsd, else --ttl).")] = None,
    domain_filter: Annotated[list[str] | None, typer.Option(
        help="Manage only names under this domain (repeatable, external-dns's meaning): names outside are "
             "neither published nor touched.")] = None,
    allow_apex: Annotated[bool, typer.Option(
        "--allow-apex", help="Let containers publish a hosted zone's apex (refused by default).")] = False,
    allow_wildcard: Annotated[bool, typer.Option(
        "--allow-wildcard", help="Let containers publish wildcard names such as *.example.com (refused by "
                                 "default).")] = False,
) -> None:
    from ..runner import drive
    from .controller import DnsSync, require_owner
    from .names import ttl_problem

    interval = run_mode(once, interval)
    for flag, value in (("--ttl", ttl), ("--srv-ttl", srv_ttl)):
        problem = ttl_problem(value) if value is not None else None
        if problem:
            raise UserError(f"{flag}: {problem}")
    if owner_id is not None:
        require_owner(owner_id)
    names = name_rules(domain_filter or (), allow_apex, allow_wildcard)
    clients = ctx.obj.clients()
    zones = tuple(zone_id or ()) or ecsd_zone()
    if source is Source.docker:
        agent = docker_agent(clients, docker_host, host_id, public_ip, private_ip, hostname, owner_id, zones,
                             policy.value, ttl, adopt_ecsd)
        agent.srv_ttl, agent.names = srv_ttl, names
        if not once:
            agent.watch()
        try:
            code = drive(agent, clients, once=once, interval=interval, dry_run=dry_run, events_queue=events_queue,
                         metrics_port=metrics_port, echo=typer.echo, wake=agent.wake)
        finally:
            agent.stop_watching()
        raise typer.Exit(code)
    if not cluster:
        raise UserError("no cluster: pass --cluster (or set ECSFLEET_CLUSTER)")
    controller = DnsSync(clients, cluster, owner_id or default_owner(cluster), zones, policy.value, ttl, min_drain,
                         adopt_ecsd=adopt_ecsd, srv_ttl=srv_ttl, names=names)
    code = drive(controller, clients, once=once, interval=interval, dry_run=dry_run, events_queue=events_queue,
                 metrics_port=metrics_port, echo=typer.echo)
    raise typer.Exit(code)


# ecsd's hosted zone: its release read ECS_HOSTED_ZONE (rel/dev.config and its README), an
# earlier one ECSD_HOSTED_ZONE_ID; like ecsd, the one zone it names is the only one managed.
ECSD_ZONE_VARIABLES = ("ECS_HOSTED_ZONE", "ECSD_HOSTED_ZONE_ID")


def ecsd_zone(environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The hosted zone ecsd's variables name, when --zone-id names none."""
    return next(((environ[v].strip(),) for v in ECSD_ZONE_VARIABLES if environ.get(v, "").strip()), ())


def name_rules(domains: Iterable[str], allow_apex: bool, allow_wildcard: bool) -> NameRules:
    from .filters import NameRules, domain_problem

    for domain in domains:
        problem = domain_problem(domain)
        if problem:
            raise UserError(f"--domain-filter {domain!r}: {problem}")
    return NameRules.of(domains, allow_apex, allow_wildcard)


def docker_agent(clients: Clients, docker_host: str | None, host_id: str | None, public_ip: str | None,
                 private_ip: str | None, hostname: str | None, owner_id: str | None, zones: tuple[str, ...],
                 policy: str, ttl: int, adopt_ecsd: bool) -> DockerDnsSync:
    import docker

    from .docker_source import DockerDnsSync, host_from_metadata

    try:
        engine = docker.DockerClient(base_url=docker_host or "unix:///var/run/docker.sock", timeout=10)
        engine.ping()
    except Exception as error:
        raise UserError(f"cannot reach the Docker engine at {docker_host or 'unix:///var/run/docker.sock'}: "
                        f"{error}") from error
    host = host_from_metadata(host_id, public_ip, private_ip, hostname)
    return DockerDnsSync(clients, engine, host, owner_id or f"host/{host.id}", zones, policy, ttl, adopt_ecsd)

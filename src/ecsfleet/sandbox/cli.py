"""`ecsfleet sandbox ...`: serve the emulated AWS and poke at a running one."""

from __future__ import annotations

import contextlib
import enum
import json
import signal
import threading
import urllib.error
import urllib.request
from typing import Annotated, Any

import typer

from ..amis import RECOMMENDED_AMI_PARAMETER
from ..command_summaries import SUMMARIES
from ..console import Output
from ..errors import UserError
from ..options import output_option
from .clock import MAX_ADVANCE, MAX_SPEED

app = typer.Typer(help=SUMMARIES["sandbox"], no_args_is_help=True)

DEFAULT_PORT = 4566
CONTROL_TIMEOUT = 10  # seconds a control call waits for the sandbox to answer


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).", min=0, max=65535)]
    = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    region: Annotated[str, typer.Option(help="Region the seed creates its resources in.")] = "us-east-1",
    seed: Annotated[str | None, typer.Option(help="Create a ready-made world: 'demo'.")] = None,
    speed: Annotated[float, typer.Option(help="Sandbox seconds per real second.", min=0.001, max=MAX_SPEED)] = 1.0,
    verbose: Annotated[bool, typer.Option("--verbose", help="Log every request served.")] = False,
    dns_port: Annotated[int | None, typer.Option(
        help="Also answer the Route53 zones over DNS on this UDP port (dig @127.0.0.1 -p PORT name SRV).",
        min=0, max=65535)] = None,
) -> None:
    """Serve the sandbox in the foreground until interrupted, and print the environment to export."""
    from .emulator import Sandbox
    from .seed import SEEDS

    if seed is not None and seed not in SEEDS:
        raise UserError(f"unknown seed {seed!r}: choose one of {', '.join(sorted(SEEDS))}")
    sandbox = Sandbox(port=port, host=host, region=region, realtime=True, speed=speed, verbose=verbose,
                      dns_port=dns_port)
    sandbox.ready = seed is None  # `sandbox ready` waits until the seed's world exists
    try:
        sandbox.start()
    except OSError as error:
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror}") from error
    try:
        if seed is not None:
            world = SEEDS[seed](sandbox)
            sandbox.ready = True
            typer.echo(f"# seeded {seed!r}: {world}", err=True)
        for key, value in sandbox.env().items():
            typer.echo(f"export {key}={value}")
        if sandbox.dns_port:
            typer.echo(f"# Route53 zones answered over DNS on udp/{sandbox.dns_port}", err=True)
        typer.echo(f"# sandbox serving on {sandbox.endpoint_url}; Ctrl-C to stop", err=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    finally:
        sandbox.stop()


def _control(endpoint: str, name: str, args: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{endpoint.rstrip('/')}/_sandbox/{name}", data=json.dumps(args or {}).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=CONTROL_TIMEOUT) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raise UserError(f"the sandbox at {endpoint} refused {name}: {_reason(error)}") from error
    except urllib.error.URLError as error:
        raise UserError(f"no sandbox answers at {endpoint}: {error.reason}") from error
    except (OSError, ValueError) as error:  # a silent endpoint (TimeoutError), not JSON, not a URL
        raise UserError(f"no sandbox answers at {endpoint}: {error}") from error


def _reason(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read()).get("error") or error.reason)
    except (OSError, ValueError, AttributeError):
        return str(error.reason)


EndpointOption = Annotated[str, typer.Option(envvar="AWS_ENDPOINT_URL", help="The sandbox's endpoint.")]


@app.command()
def calls(endpoint_url: EndpointOption = f"http://127.0.0.1:{DEFAULT_PORT}",
          reset: Annotated[bool, typer.Option(help="Zero the counters after printing.")] = False) -> None:
    """Print how many calls the sandbox served, by service and operation."""
    for row in _control(endpoint_url, "calls")["calls"]:
        typer.echo(f"{row['count']:>8}  {row['service']}:{row['operation']}")
    if reset:
        _control(endpoint_url, "calls/reset")


@app.command()
def advance(seconds: Annotated[float, typer.Argument(help="Sandbox seconds to move forward.", min=0,
                                                     max=MAX_ADVANCE)],
            endpoint_url: EndpointOption = f"http://127.0.0.1:{DEFAULT_PORT}") -> None:
    """Move a running sandbox's clock forward (tasks start and stop, agents update)."""
    _control(endpoint_url, "advance", {"seconds": seconds})


class ImageOwner(enum.Enum):
    amazon = "amazon"
    self = "self"


@app.command("publish-ami")
def publish_ami(
    name: Annotated[str | None, typer.Option(help="The image's name (default: an ECS-optimized AMI's name of "
                                                  "today).")] = None,
    parameter: Annotated[str, typer.Option(help="SSM parameter whose new value is the image's id ('' for "
                                                "none).")] = RECOMMENDED_AMI_PARAMETER,
    owner: Annotated[ImageOwner, typer.Option(help="amazon (AWS publishes it) or self (the account built it).")]
    = ImageOwner.amazon,
    endpoint_url: EndpointOption = f"http://127.0.0.1:{DEFAULT_PORT}",
) -> None:
    """Publish a newer AMI in a running sandbox, as AWS publishes the recommended ECS-optimized AMI
    (or EC2 Image Builder an image): prints its id (docs/fleet.md, "AMIs stay current")."""
    answer = _control(endpoint_url, "ami/publish", {"name": name, "parameter": parameter or None,
                                                    "owner": owner.value})
    typer.echo(answer["imageId"])


@app.command("spot-price")
def spot_price(
    instance_type: Annotated[str, typer.Argument(help="The instance type, such as m5.large.")],
    price: Annotated[float, typer.Argument(help="Its spot price from now on, $ an hour.", min=0.0001, max=1000)],
    az: Annotated[str | None, typer.Option(help="Only in this availability zone (default: every zone of the "
                                                "region).")] = None,
    endpoint_url: EndpointOption = f"http://127.0.0.1:{DEFAULT_PORT}",
) -> None:
    """Change a spot price in a running sandbox, at its clock's time: DescribeSpotPriceHistory
    shows the change, and spot fleets choose their pools by it (docs/sandbox.md, "The spot market")."""
    _control(endpoint_url, "spot/price", {"instance_type": instance_type, "price": price, "az": az})


@app.command()
def ready(endpoint_url: EndpointOption = f"http://127.0.0.1:{DEFAULT_PORT}",
          timeout: Annotated[float, typer.Option(help="Seconds to wait.", min=0, max=3600)] = 30.0) -> None:
    """Wait until a sandbox answers at the endpoint and its seed (`up --seed`) exists (for scripts)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            if _control(endpoint_url, "health").get("ready", True):
                return
            if time.monotonic() > deadline:
                raise UserError(f"the sandbox at {endpoint_url} answers, but its seed is not ready after {timeout:g} s")
        except UserError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


@app.command()
def rules(
    service: Annotated[str | None, typer.Option(help="Only this service's rules (route53, elb, ecs, ...).")] = None,
    output: Annotated[Output, output_option("table or json.")] = Output.table,
) -> None:
    """List the AWS refusals the sandbox enforces (its fidelity rules), each with its AWS source.

    The same table, with what is deliberately not emulated, is docs/sandbox-fidelity.md."""
    from rich.table import Table

    from ..console import out
    from .rules import ALL_RULES

    chosen = [r for r in ALL_RULES if service is None or r.service == service]
    if service is not None and not chosen:
        known = sorted({r.service for r in ALL_RULES})
        raise UserError(f"no rules for service {service!r}: choose one of {', '.join(known)}")
    if output is Output.json:
        typer.echo(json.dumps([{"name": r.name, "service": r.service, "operations": list(r.operations),
                                "rule": r.summary, "source": r.source, "enforced": r.enforced,
                                "not_enforced_because": r.not_enforced or None} for r in chosen], indent=2))
        return
    table = Table("service", "operation", "rule", "enforced", box=None)
    for r in chosen:
        table.add_row(r.service, ", ".join(r.operations), r.summary, "yes" if r.enforced else "no")
    out().print(table)
    enforced = sum(r.enforced for r in chosen)
    out().print(f"{len(chosen)} rules, {enforced} enforced; sources: ecsfleet sandbox rules --output json")

"""Spot prices for the placement scaler, and a spot fleet's allocation strategy: the price a launch
would pay (prices.py, pure), one DescribeSpotPriceHistory a pass and only when it is needed
(observe.py, against the sandbox's spot market), what a failed read does, infra.yml's
`allocation_strategy` and the template it renders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecsfleet.aws import Clients
from ecsfleet.cfn import lint
from ecsfleet.fleet.controller import FleetController
from ecsfleet.fleet.observe import read_world
from ecsfleet.fleet.prices import PoolPrice, launch_prices, spot_price
from ecsfleet.fleet.schema import Infra, InfraError, load_infra, parse_infra
from ecsfleet.fleet.templates import compute_template
from ecsfleet.iam import policies
from ecsfleet.sandbox import Sandbox
from faults import ATTEMPTS, RetryWaits, skip_retry_waits
from support import rolled_out

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "infra-seed.yml"
ZONES = ["us-east-1a", "us-east-1c"]


def placement_yml(strategy: str | None = None, *, mode: str = "placement", zones: bool = True) -> str:
    chosen = f"      allocation_strategy: {strategy}\n" if strategy else ""
    where = f"  availability_zones: [{', '.join(ZONES)}]\n" if zones else ""
    return (
        "cluster:\n"
        "  name: shop\n" + where +
        "ec2_instances:\n"
        f"  scaling: {mode}\n"
        "  spot_fleets:\n"
        "    - name: spot\n"
        "      desired_weight: 2\n"
        "      min_weight: 0\n"
        "      max_weight: 6\n" + chosen +
        "      bids:\n"
        "        - {instance_type: t3.medium, price: 0.02}\n"
        "        - {instance_type: t3.large, price: 0.03}\n"
    )


# ---- prices.py: what a launch pays ------------------------------------------------------------


def test_spot_price_is_the_market_capped_by_the_bid_or_the_bid_when_unknown() -> None:
    assert spot_price("m5.large", 0.037, {"m5.large": 0.031}) == 0.031
    assert spot_price("m5.large", 0.037, {"m5.large": 0.05}) == 0.037
    assert spot_price("m5.large", 0.037, {}) == 0.037


def test_launch_prices_follow_the_strategy_within_the_bid() -> None:
    pools = [PoolPrice("m5.large", "a", 0.030), PoolPrice("m5.large", "b", 0.034), PoolPrice("m5.large", "c", 0.060),
             PoolPrice("c5.xlarge", "a", 0.070), PoolPrice("r5.large", "a", 0.01)]
    bids = {"m5.large": 0.037, "c5.xlarge": 0.065}
    assert launch_prices(pools, {"m5.large": True, "c5.xlarge": True}, bids) == {"m5.large": 0.030,
                                                                                  "c5.xlarge": 0.065}
    # diversified: the mean of the pools it can launch in (zone c is above the bid: left out).
    assert launch_prices(pools, {}, bids) == {"m5.large": pytest.approx(0.032), "c5.xlarge": 0.065}
    assert launch_prices([], {}, bids) == {}  # nothing priced: spot_price falls back to the bids


# ---- infra.yml and the template ----------------------------------------------------------------


def test_the_strategy_defaults_to_diversified_and_seed_files_render_as_before() -> None:
    _, seed = load_infra(str(SEED))
    assert all(f.allocation_strategy == "diversified" for f in seed.ec2_instances.spot_fleets)
    spot = compute_template(seed, "v1")["Resources"]["SpotFleetMain"]["Properties"]["SpotFleetRequestConfigData"]
    assert spot["AllocationStrategy"] == "diversified"
    assert "allocation_strategy" not in SEED.read_text()


@pytest.mark.parametrize("strategy", ["lowestPrice", "capacityOptimized", "priceCapacityOptimized"])
def test_the_strategy_reaches_the_template_which_cfn_lint_accepts(strategy: str) -> None:
    infra = parse_infra("infra.yml", placement_yml(strategy))
    template = compute_template(infra, "v1")
    config = template["Resources"]["SpotFleetSpot"]["Properties"]["SpotFleetRequestConfigData"]
    assert config["AllocationStrategy"] == strategy
    assert lint(json.loads(json.dumps(template)), ["us-east-1"]) == []


def test_an_unknown_strategy_names_the_field_and_the_choices() -> None:
    with pytest.raises(InfraError) as caught:
        parse_infra("infra.yml", placement_yml("cheapest"))
    message = str(caught.value)
    assert "infra.yml:11: ec2_instances.spot_fleets.0.allocation_strategy" in message
    assert all(s in message for s in ("diversified", "lowestPrice", "capacityOptimized", "priceCapacityOptimized"))
    assert "(got 'cheapest')" in message


# ---- the observe read, against the sandbox ----------------------------------------------------


def deployed(sb: Sandbox, clients: Clients, text: str) -> Infra:
    infra = parse_infra("infra.yml", text)
    rolled_out(sb, clients, infra)
    sb.reset_calls()
    return infra


def history_reads(sb: Sandbox) -> int:
    return sb.count("ec2", "DescribeSpotPriceHistory")


def test_one_read_prices_each_bid_at_the_mean_of_the_fleets_zones_when_diversified(
        sb: Sandbox, clients: Clients) -> None:
    infra = deployed(sb, clients, placement_yml())
    sb.set_spot_price("t3.medium", 0.012, az="us-east-1a")
    sb.set_spot_price("t3.medium", 0.016, az="us-east-1c")
    sb.set_spot_price("t3.medium", 0.001, az="us-east-1b")  # not a zone of the fleet
    sb.set_spot_price("t3.large", 0.05)  # above the $0.03 bid in every zone
    sb.advance(1)
    world = read_world(clients, infra)
    assert history_reads(sb) == 1
    assert world.spot_prices == {"t3.medium": pytest.approx(0.014), "t3.large": 0.03}
    assert world.warnings == ()


def test_a_lowest_price_fleet_pays_its_cheapest_zone(sb: Sandbox, clients: Clients) -> None:
    infra = deployed(sb, clients, placement_yml("priceCapacityOptimized"))
    sb.set_spot_price("t3.medium", 0.012, az="us-east-1a")
    sb.set_spot_price("t3.medium", 0.016, az="us-east-1c")
    sb.advance(1)
    assert read_world(clients, infra).spot_prices["t3.medium"] == 0.012


def test_without_zones_in_infra_yml_the_zones_the_instances_run_in_count(sb: Sandbox, clients: Clients) -> None:
    infra = deployed(sb, clients, placement_yml("lowestPrice", zones=False))
    world = read_world(clients, infra)
    v1 = world.fleet("v1")
    assert v1 is not None
    running = {ci.attributes["ecs.availability-zone"] for ci in world.members(v1)}
    assert running
    cheapest = min(sb.spot_price("t3.medium", z) or 1.0 for z in running)
    sb.set_spot_price("t3.medium", cheapest / 2, az=next(z for z in ["us-east-1a", "us-east-1b", "us-east-1c",
                                                                      "us-east-1d", "us-east-1e", "us-east-1f"]
                                                           if z not in running))
    sb.advance(1)
    assert read_world(clients, infra).spot_prices["t3.medium"] == cheapest  # a zone it has no instance in: not counted


def test_each_controller_pass_reads_the_history_once(sb: Sandbox, clients: Clients) -> None:
    infra = deployed(sb, clients, placement_yml())
    controller = FleetController(clients, infra, now=sb.now)
    for _ in range(2):
        assert controller.reconcile(dry_run=False).ok
        sb.advance(30)
    assert history_reads(sb) == 2
    assert read_world(clients, infra, scaling=False).spot_prices == {}  # a caller that does not scale
    assert history_reads(sb) == 2


def test_thresholds_mode_and_fleets_without_spot_never_read_prices(sb: Sandbox, clients: Clients) -> None:
    infra = deployed(sb, clients, placement_yml(mode="thresholds"))
    assert read_world(clients, infra).spot_prices == {}
    assert FleetController(clients, infra, now=sb.now).reconcile(dry_run=False).ok
    on_demand = parse_infra("infra.yml", "cluster:\n  name: shop\nec2_instances:\n  scaling: placement\n"
                                         "  auto_scaling_groups:\n    - {name: base, instance_type: t3.medium}\n")
    assert read_world(clients, on_demand).spot_prices == {}
    assert history_reads(sb) == 0


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> RetryWaits:
    return skip_retry_waits(monkeypatch)


def test_a_failed_read_is_a_warning_and_the_bids_stand_in(sb: Sandbox, clients: Clients, waits: RetryWaits) -> None:
    infra = deployed(sb, clients, placement_yml())
    sb.throttle("ec2", "DescribeSpotPriceHistory", times=ATTEMPTS)  # throttled after every retry
    world = read_world(clients, infra)
    assert world.spot_prices == {}
    (warning,) = world.warnings
    assert "DescribeSpotPriceHistory failed (RequestLimitExceeded)" in warning and "at their bid" in warning
    assert history_reads(sb) == ATTEMPTS
    sb.throttle("ec2", "DescribeSpotPriceHistory", times=ATTEMPTS)
    report = FleetController(clients, infra, now=sb.now).reconcile(dry_run=False)
    assert report.ok  # the pass goes on, and says why its spot prices are the bids
    assert any("DescribeSpotPriceHistory failed (RequestLimitExceeded)" in w for w in report.warnings), report.warnings


def test_the_default_fleet_policy_grants_the_read() -> None:
    assert "ec2:DescribeSpotPriceHistory" in policies.allowed_actions(policies.policy("fleet"))
    without = policies.policy("fleet", ["events-queue"], defaults=False)
    assert "ec2:DescribeSpotPriceHistory" not in policies.allowed_actions(without)

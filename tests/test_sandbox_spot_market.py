"""The sandbox's spot market: DescribeSpotPriceHistory as AWS answers it (filters, times,
pagination, newest first), prices set on the sandbox clock, and spot fleets that launch from the
pools their allocation strategy chooses."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from ecsfleet.cli import main
from ecsfleet.fleet.prices import ON_DEMAND_USD_PER_HOUR
from ecsfleet.sandbox import Sandbox
from ecsfleet.sandbox.seed import any_image
from ecsfleet.sandbox.spot_market import DEFAULT_SHARE, Pool, default_price, launches

ROLE = "arn:aws:iam::123456789012:role/spot-fleet"
ZONES = [f"us-east-1{letter}" for letter in "abcdef"]


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def prices(sb: Sandbox, **params: Any) -> list[tuple[str, str, str]]:
    """(type, zone, price) of every entry the history answers, in its order."""
    entries = sb.client("ec2").describe_spot_price_history(**params)["SpotPriceHistory"]
    return [(e["InstanceType"], e["AvailabilityZone"], e["SpotPrice"]) for e in entries]


# ---- DescribeSpotPriceHistory ------------------------------------------------------------------


def test_every_pool_has_a_default_price_near_a_third_of_on_demand_that_differs_by_zone(sb: Sandbox) -> None:
    found = prices(sb, InstanceTypes=["m5.large"], ProductDescriptions=["Linux/UNIX"], StartTime=at(sb.now()))
    assert sorted(zone for _, zone, _ in found) == ZONES  # one entry per pool: the price in effect now
    values = {zone: float(price) for _, zone, price in found}
    on_demand = ON_DEMAND_USD_PER_HOUR["m5.large"]
    assert all(0.9 * DEFAULT_SHARE * on_demand <= v <= 1.1 * DEFAULT_SHARE * on_demand for v in values.values())
    assert len(set(values.values())) > 1  # zones differ
    (entry,) = sb.client("ec2").describe_spot_price_history(
        InstanceTypes=["m5.large"], AvailabilityZone="us-east-1a")["SpotPriceHistory"]
    assert entry["ProductDescription"] == "Linux/UNIX" and entry["AvailabilityZoneId"]


def test_a_price_set_is_stamped_on_the_sandbox_clock_and_answered_newest_first(sb: Sandbox) -> None:
    opened = sb.now()
    prices(sb, InstanceTypes=["c5.large"])  # the market opens with its defaults now
    sb.advance(600)
    changed = sb.now()
    sb.set_spot_price("c5.large", 0.05, az="us-east-1b")
    sb.advance(600)
    sb.set_spot_price("c5.large", 0.04, az="us-east-1b")
    assert sb.spot_price("c5.large", "us-east-1b") == 0.04
    entries = sb.client("ec2").describe_spot_price_history(
        InstanceTypes=["c5.large"], AvailabilityZone="us-east-1b")["SpotPriceHistory"]
    default = f"{default_price('c5.large', 'us-east-1b'):.6f}"
    assert [e["SpotPrice"] for e in entries] == ["0.040000", "0.050000", default]
    assert [e["Timestamp"].timestamp() for e in entries] == pytest.approx([changed + 600, changed, opened], abs=1)
    # StartTime between two changes: the one in effect then, and the later one.
    middle = prices(sb, InstanceTypes=["c5.large"], AvailabilityZone="us-east-1b", StartTime=at(changed + 300))
    assert [p for _, _, p in middle] == ["0.040000", "0.050000"]
    # EndTime before the first change: the default alone.
    early = prices(sb, InstanceTypes=["c5.large"], AvailabilityZone="us-east-1b", StartTime=at(opened),
                   EndTime=at(changed - 1))
    assert len(early) == 1 and early[0][2] != "0.050000"
    # Every zone at once when none is named.
    sb.set_spot_price("c5.large", 0.03)
    sb.advance(1)
    assert {p for _, _, p in prices(sb, InstanceTypes=["c5.large"], StartTime=at(sb.now()))} == {"0.030000"}


def test_filters_narrow_the_history(sb: Sandbox) -> None:
    both = prices(sb, InstanceTypes=["m5.large", "c5.xlarge"], StartTime=at(sb.now()))
    assert Counter(t for t, _, _ in both) == {"m5.large": 6, "c5.xlarge": 6}
    filtered = prices(sb, StartTime=at(sb.now()), Filters=[
        {"Name": "instance-type", "Values": ["r5.*"]}, {"Name": "availability-zone", "Values": ["us-east-1c"]}])
    assert sorted(t for t, _, _ in filtered) == ["r5.2xlarge", "r5.large", "r5.xlarge"]
    assert {z for _, z, _ in filtered} == {"us-east-1c"}
    assert prices(sb, InstanceTypes=["m5.large"], ProductDescriptions=["Windows"]) == []
    vpc = prices(sb, InstanceTypes=["m5.large"], ProductDescriptions=["Linux/UNIX (Amazon VPC)"])
    assert len(vpc) == 6
    assert prices(sb, InstanceTypes=["x9.nano"]) == []  # a type the market has no price for


def test_pages_of_max_results_hold_the_whole_history(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    whole = ec2.describe_spot_price_history()["SpotPriceHistory"]
    assert len(whole) == len(ON_DEMAND_USD_PER_HOUR) * len(ZONES)
    first = ec2.describe_spot_price_history(MaxResults=50)
    assert len(first["SpotPriceHistory"]) == 50 and first["NextToken"]
    pages = list(ec2.get_paginator("describe_spot_price_history").paginate(PaginationConfig={"PageSize": 50}))
    assert len(pages) == -(-len(whole) // 50)
    assert [e for p in pages for e in p["SpotPriceHistory"]] == whole
    assert not pages[-1].get("NextToken")


def test_a_price_must_be_positive_and_the_zone_the_regions(sb: Sandbox) -> None:
    with pytest.raises(ValueError, match="positive"):
        sb.set_spot_price("m5.large", 0)
    with pytest.raises(ValueError, match="us-east-1a"):
        sb.set_spot_price("m5.large", 0.03, az="eu-west-1a")


def test_the_cli_sets_a_price_in_a_running_sandbox(sb: Sandbox) -> None:
    assert main(["sandbox", "spot-price", "m5.large", "0.021", "--az", "us-east-1c",
                 "--endpoint-url", sb.endpoint_url]) == 0
    assert sb.spot_price("m5.large", "us-east-1c") == 0.021
    assert main(["sandbox", "spot-price", "m5.large", "0.021", "--az", "mars-1a",
                 "--endpoint-url", sb.endpoint_url]) != 0


# ---- spot fleets choose pools by their allocation strategy ------------------------------------


def subnets(sb: Sandbox) -> dict[str, str]:
    """zone -> the default subnet of the default VPC there."""
    found = sb.client("ec2").describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    return {s["AvailabilityZone"]: s["SubnetId"] for s in found}


def request_fleet(sb: Sandbox, strategy: str, target: int, bids: list[tuple[str, int, float]],
                  zones: list[str]) -> str:
    ec2 = sb.client("ec2")
    image, by_zone = any_image(ec2), subnets(sb)
    specs = [{"ImageId": image, "InstanceType": instance_type, "WeightedCapacity": weight, "SpotPrice": str(price),
              "SubnetId": by_zone[zone]} for instance_type, weight, price in bids for zone in zones]
    return str(ec2.request_spot_fleet(SpotFleetRequestConfig={
        "IamFleetRole": ROLE, "TargetCapacity": target, "AllocationStrategy": strategy, "Type": "maintain",
        "LaunchSpecifications": specs})["SpotFleetRequestId"])


def launched(sb: Sandbox, fleet: str) -> list[tuple[str, str]]:
    """(type, zone) of the fleet's running instances."""
    ec2 = sb.client("ec2")
    ids = [i["InstanceId"] for i in ec2.describe_spot_fleet_instances(SpotFleetRequestId=fleet)["ActiveInstances"]]
    if not ids:
        return []
    reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return sorted((i["InstanceType"], i["Placement"]["AvailabilityZone"]) for r in reservations
                  for i in r["Instances"] if i["State"]["Name"] in ("pending", "running"))


def fulfilled(sb: Sandbox, fleet: str) -> float:
    (doc,) = sb.client("ec2").describe_spot_fleet_requests(SpotFleetRequestIds=[fleet])["SpotFleetRequestConfigs"]
    return float(doc["SpotFleetRequestConfig"]["FulfilledCapacity"])


# m5.large (2 units at a $0.037 bid) and c5.xlarge (4 units at $0.065): at the default prices the
# c5.xlarge is the cheaper per unit (about $0.015 against $0.017).
BIDS = [("m5.large", 2, 0.037), ("c5.xlarge", 4, 0.065)]


@pytest.mark.parametrize("strategy", ["lowestPrice", "priceCapacityOptimized", "capacityOptimized"])
def test_lowest_price_strategies_launch_the_cheapest_pool_per_unit_of_weight(sb: Sandbox, strategy: str) -> None:
    fleet = request_fleet(sb, strategy, 8, BIDS, ["us-east-1a", "us-east-1c", "us-east-1d"])
    cheapest = min(["us-east-1a", "us-east-1c", "us-east-1d"], key=lambda z: sb.spot_price("c5.xlarge", z) or 1)
    assert launched(sb, fleet) == [("c5.xlarge", cheapest)] * 2
    assert fulfilled(sb, fleet) == 8


def test_a_pool_priced_above_its_bid_is_not_launched(sb: Sandbox) -> None:
    sb.set_spot_price("c5.xlarge", 0.07)  # above its $0.065 bid, in every zone
    fleet = request_fleet(sb, "lowestPrice", 6, BIDS, ["us-east-1a"])
    assert launched(sb, fleet) == [("m5.large", "us-east-1a")] * 3
    assert fulfilled(sb, fleet) == 6
    sb.set_spot_price("m5.large", 0.05)  # now every pool is above its bid: a raise launches nothing
    sb.client("ec2").modify_spot_fleet_request(SpotFleetRequestId=fleet, TargetCapacity=10)
    assert len(launched(sb, fleet)) == 3


def test_diversified_spreads_across_types_and_zones_and_continues_the_spread_on_each_raise(sb: Sandbox) -> None:
    zones = ["us-east-1a", "us-east-1b"]
    fleet = request_fleet(sb, "diversified", 6, BIDS, zones)  # 2 + 4 units: one of each type
    first = launched(sb, fleet)
    assert Counter(t for t, _ in first) == {"m5.large": 1, "c5.xlarge": 1}
    assert {z for _, z in first} == set(zones)  # different zones too
    sb.advance(10)
    sb.client("ec2").modify_spot_fleet_request(SpotFleetRequestId=fleet, TargetCapacity=12)
    after = Counter(launched(sb, fleet))
    assert set(after) == {(t, z) for t, _, _ in BIDS for z in zones}  # every pool, not the first again
    assert max(after.values()) - min(after.values()) <= 1


def test_an_interrupted_instance_is_replaced_from_the_pool_the_strategy_chooses_now(sb: Sandbox) -> None:
    fleet = request_fleet(sb, "lowestPrice", 4, BIDS, ["us-east-1a", "us-east-1b"])
    (before,) = launched(sb, fleet)
    assert before[0] == "c5.xlarge"
    other = "us-east-1b" if before[1] == "us-east-1a" else "us-east-1a"
    sb.set_spot_price("c5.xlarge", 0.02, az=other)  # the other zone is now the cheapest pool
    (instance,) = [i["InstanceId"] for i in sb.client("ec2").describe_spot_fleet_instances(
        SpotFleetRequestId=fleet)["ActiveInstances"]]
    sb.interrupt_spot(instance)
    sb.advance(121)
    assert launched(sb, fleet) == [("c5.xlarge", other)]


def test_launches_is_a_pure_choice() -> None:
    pools = [Pool("a", "m5.large", "z1", 2, 0.037), Pool("b", "c5.xlarge", "z1", 4, 0.065)]
    market = {("m5.large", "z1"): 0.03, ("c5.xlarge", "z1"): 0.07}
    assert launches("lowestPrice", pools, {}, 5, lambda t, z: market[(t, z)]) == {"a": 3}
    market[("c5.xlarge", "z1")] = 0.05
    assert launches("priceCapacityOptimized", pools, {}, 5, lambda t, z: market[(t, z)]) == {"b": 2}
    assert launches("diversified", pools, {}, 6, lambda t, z: market[(t, z)]) == {"a": 1, "b": 1}
    assert launches("diversified", pools, {"b": 1}, 2, lambda t, z: market[(t, z)]) == {"a": 1}
    assert launches("lowestPrice", pools, {}, 4, lambda t, z: None) == {}

"""Route53 calls and planning time for bursts of container changes (dns-sync's pure planner).

A burst of N containers starting at once, spread over N/10 services (each with an SRV and an A
name) on N/20 hosts, against an empty zone: how many ChangeResourceRecordSets calls dns-sync
sends, and how long planning and packing take, next to ecsd's one call per container event.
Then the same burst a second time against the converged zone (zero calls expected).
"""

from __future__ import annotations

from functools import partial

from _support import OWNER, converged_zone, ecsd_calls, machine, markdown_table, measure
from ecsfleet.dns.endpoints import Endpoint
from ecsfleet.dns.plan import desired_records, pack, plan
from ecsfleet.dns.records import Zone

ZONE = Zone("Z1", "example.com.", False)


def burst(containers: int) -> list[Endpoint]:
    endpoints = []
    hosts = max(1, containers // 20)
    for n in range(containers):
        service, host = n % max(1, containers // 10), n % hosts
        target = f"ip-10-{host // 250}-{host % 250}-1.ec2.internal."
        endpoints.append(Endpoint(f"_svc{service}._tcp.example.com.", "SRV", f"1 1 {32768 + n // hosts} {target}",
                                  f"i-{host}", True))
        endpoints.append(Endpoint(f"svc{service}.example.com.", "A", f"10.{host // 250}.{host % 250}.1",
                                  f"i-{host}", True))
    return endpoints


def calls(endpoints: list[Endpoint]) -> int:
    """ChangeResourceRecordSets calls dns-sync sends for the burst against an empty zone."""
    result = plan(desired_records(endpoints, [ZONE], 10)[0], {}, OWNER)
    return sum(len(pack(groups)) for groups in result.groups_by_zone.values())


def main() -> None:
    rows = []
    for size in (10, 100, 1000, 10000):
        endpoints = burst(size)
        desired, _ = desired_records(endpoints, [ZONE], 10)
        timed = measure(partial(calls, endpoints), runs=5)
        again = plan(desired, converged_zone(desired), OWNER)
        values = sum(len(r.values) for r in desired.values())
        rows.append((size, len(desired), values, calls(endpoints), ecsd_calls(size), f"{timed.median_ms:.1f}",
                     f"{timed.peak_mib:.1f}", len(again.changes)))
    print(f"dns-sync planner, bursts of container starts ({machine()})")
    print(markdown_table(["containers", "record sets", "values", "Route53 calls (dns-sync)",
                          "calls (ecsd: 1 per event, model)", "plan+pack ms (median of 5)", "peak MiB",
                          "converged pass calls"], rows))


if __name__ == "__main__":
    main()

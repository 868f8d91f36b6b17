"""Route53 calls and planning time for bursts of container changes (dns-sync's pure planner).

A burst of N containers starting at once, spread over N/10 services (each with an SRV and an A
name) on N/20 hosts, against an empty zone: how many ChangeResourceRecordSets calls dns-sync
sends, and how long planning and packing take, next to ecsd's one call per container event.
Then the same burst a second time against the converged zone (zero calls expected).
"""

from __future__ import annotations

import statistics
import time
import tracemalloc

from ecsfleet.dns.endpoints import Endpoint
from ecsfleet.dns.plan import desired_records, pack, plan
from ecsfleet.dns.records import RecordKey, RecordSet, Zone, registry_key, registry_record

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


def converged(desired: dict[tuple[str, RecordKey], RecordSet]) -> dict[tuple[str, RecordKey], RecordSet]:
    existing = dict(desired)
    for (zone, key) in desired:
        existing[(zone, registry_key(key))] = registry_record(key, "me", 300)
    return existing


def main() -> None:
    print(f"dns-sync planner, bursts of container starts ({time.strftime('%Y-%m-%d')})")
    print("| containers | record sets | values | Route53 calls (dns-sync) | calls (ecsd: 1 per event) "
          "| plan+pack ms (median of 5) | peak MiB | converged pass calls |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in (10, 100, 1000, 10000):
        endpoints = burst(size)
        timings, calls = [], 0
        for _ in range(5):
            started = time.perf_counter()
            desired, _ = desired_records(endpoints, [ZONE], 10)
            result = plan(desired, {}, "me")
            calls = sum(len(pack(groups)) for groups in result.groups_by_zone.values())
            timings.append((time.perf_counter() - started) * 1000)
        tracemalloc.start()  # a separate run: tracing slows the timed ones
        plan(desired_records(endpoints, [ZONE], 10)[0], {}, "me")
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        again = plan(desired, converged(desired), "me")
        values = sum(len(r.values) for r in desired.values())
        print(f"| {size} | {len(desired)} | {values} | {calls} | {size} | {statistics.median(timings):.1f} "
              f"| {peak:.1f} | {len(again.changes)} |")


if __name__ == "__main__":
    main()

"""The sandbox's Route53 zones answered over real DNS (UDP), so `dig @127.0.0.1 -p PORT name SRV`
shows what dns-sync published."""

from __future__ import annotations

import threading
from typing import Any

from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from .ecs_model import ACCOUNT_ID


def _records(name: str, qtype: str) -> list[str] | None:
    """Zone-file lines answering (name, qtype) from moto's Route53; None when no zone holds the name."""
    from moto.route53.models import route53_backends

    backend: Any = route53_backends[ACCOUNT_ID]["aws"]
    zones: list[Any] = [z for z in backend.zones.values() if name == z.name.rstrip(".").lower() + "."
             or name.endswith("." + z.name.rstrip(".").lower() + ".")]
    if not zones:
        return None
    # Public zones first: a dig from outside sees the public view of a split horizon.
    zones.sort(key=lambda z: (-len(z.name), bool(z.private_zone)))
    zone = zones[0]
    lines = []
    for rrset in zone.rrsets:
        if rrset.name.rstrip(".").lower() + "." != name or (qtype not in ("ANY", rrset.type)):
            continue
        for record in rrset.records:
            value = record["Value"] if isinstance(record, dict) else str(record)
            lines.append(f"{name} {rrset.ttl or 0} IN {rrset.type} {value}")
    return lines


class _Resolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        qname = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        with self._lock:
            lines = _records(qname, qtype)
        if lines is None:
            reply.header.rcode = RCODE.REFUSED
            return reply
        for line in lines:
            reply.add_answer(*RR.fromZone(line))
        if not lines:
            reply.header.rcode = RCODE.NXDOMAIN if _records(qname, "ANY") == [] else RCODE.NOERROR
        return reply


class SandboxDns:
    def __init__(self, lock: threading.RLock, port: int, host: str = "127.0.0.1") -> None:
        quiet = DNSLogger(log="-request,-reply,-truncated", prefix=False, logf=lambda _: None)
        self._server = DNSServer(_Resolver(lock), port=port, address=host, logger=quiet)

    @property
    def port(self) -> int:
        return int(self._server.server.server_address[1])

    def start(self) -> None:
        self._server.start_thread()

    def stop(self) -> None:
        self._server.stop()

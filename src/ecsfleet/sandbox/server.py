"""The sandbox's one HTTP endpoint: counts every call, injects faults, serves ECS itself and
hands every other service to moto."""

from __future__ import annotations

import functools
import io
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.wsgi import get_input_stream

from . import rules
from .ecs_api import EcsApi
from .ecs_model import EcsError
from .protocols import (
    MALFORMED,
    Operation,
    Response,
    UnknownOperation,
    error_response,
    identify,
    parse_input,
    refusal_response,
    signed_service,
    unknown_operation,
)
from .world import SandboxWorld

log = logging.getLogger(__name__)
StartResponse = Callable[..., Any]
Control = Callable[[dict[str, Any]], Any]
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")


class CallLog:
    """How many calls the endpoint served, by (service, operation)."""

    SEQUENCE_LIMIT = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._sequence: list[tuple[str, str]] = []

    def record(self, service: str, operation: str) -> None:
        with self._lock:
            self._counts[(service, operation)] += 1
            if len(self._sequence) < self.SEQUENCE_LIMIT:
                self._sequence.append((service, operation))

    def sequence(self) -> list[tuple[str, str]]:
        """Calls in the order they were served (the first 100,000 since the last reset)."""
        with self._lock:
            return list(self._sequence)

    def snapshot(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._sequence.clear()


@dataclass
class _Fault:
    service: str
    operation: str
    remaining: int
    kind: str


class FaultBook:
    """Faults armed by tests: the next N calls of an operation fail with a throttle or a 5xx."""

    KINDS = ("throttle", "server-error")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []

    def arm(self, service: str, operation: str, times: int, kind: str) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"fault kind must be one of {self.KINDS}, not {kind!r}")
        with self._lock:
            self._faults.append(_Fault(service, operation, times, kind))

    def take(self, op: Operation) -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.service, fault.operation) == (op.service, op.name):
                    fault.remaining -= 1
                    return fault.kind
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


class SandboxApp:
    """WSGI application behind the sandbox endpoint."""

    def __init__(
        self,
        moto: Callable[..., Any],
        ecs: EcsApi,
        lock: threading.RLock,
        calls: CallLog,
        faults: FaultBook,
        controls: dict[str, Control],
        default_region: str,
        world: Callable[[str], SandboxWorld] | None = None,
    ) -> None:
        """`world(region)`: the state the rules layer checks calls against; without it, no rules
        are checked (moto's and the ECS emulation's own leniency)."""
        self._moto = moto
        self._ecs = ecs
        self._lock = lock
        self._calls = calls
        self._faults = faults
        self._controls = controls
        self._default_region = default_region
        self._world = world

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sandbox/"):
            return self._control(path.removeprefix("/_sandbox/"), environ, start_response)
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("wsgi.input_terminated", None)
        op = identify(environ, body)
        if op is None and self._world is not None:
            service = signed_service(environ, body)
            if service is not None:  # signed for a service, but no operation of it: AWS's error, not HTML
                name = f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}"
                return _respond(start_response, unknown_operation(Operation(service[0], name, service[1])))
        if op is not None:
            self._calls.record(op.service, op.name)
            region = self._region(environ)
            if region != self._default_region and region not in known_regions():
                # AWS's answer to a signature scoped to a region that does not exist; moto would
                # make a backend for it and the clock would trip over it.
                return _respond(start_response, refusal_response(
                    op, "InvalidSignatureException" if op.protocol in ("json", "rest-json") else
                    "SignatureDoesNotMatch", f"Credential should be scoped to a valid region, not '{region}'.", 403))
            kind = self._faults.take(op)
            if kind is not None:
                return _respond(start_response, error_response(op, kind))
        if op is not None and op.service == "sqs":
            # ReceiveMessage long-polls for up to 20 s: holding the lock would stop the very
            # events it waits for. moto's queues take concurrent access on their own.
            refused = self._refusal(op, environ, body)
            if refused is not None:
                return _respond(start_response, refused)
            return self._serve_moto(op, environ, start_response)
        with self._lock:
            # The rules and the call they pass see one state: nothing changes in between.
            refused = self._refusal(op, environ, body) if op is not None else None
            if refused is not None:
                return _respond(start_response, refused)
            if op is not None and op.service == "ecs":
                return self._serve_ecs(op.name, environ, body, start_response)
            return self._serve_moto(op, environ, start_response)

    def _refusal(self, op: Operation, environ: dict[str, Any], body: bytes) -> Response | None:
        """AWS's refusal of this call by the sandbox's rules, in the operation's wire format."""
        if self._world is None or not rules.rules_for(op.service, op.name):
            return None
        try:
            params = parse_input(op, environ, body)
        except UnknownOperation:
            return unknown_operation(op)
        except ValueError as error:
            return refusal_response(op, MALFORMED.get(op.protocol, "ValidationError"), str(error))
        call = rules.Call(op.service, op.name, params, self._world(self._region(environ)))
        refusal = rules.refuse(call)
        if refusal is None:
            return None
        log.info("sandbox refused %s:%s: %s %s", op.service, op.name, refusal.code, refusal.message)
        return refusal_response(op, refusal.code, refusal.message, refusal.status)

    def _serve_moto(self, op: Operation | None, environ: dict[str, Any], start_response: StartResponse
                    ) -> Iterable[bytes]:
        try:
            # moto's response is produced lazily; materialise it while the lock is held.
            return list(self._moto(environ, start_response))
        except Exception as error:  # a moto crash must reach the client as AWS's error shape, not HTML
            log.exception("moto failed on %s", op)
            if op is None:
                raise
            return _respond(start_response, refusal_response(op, "InternalFailure", f"{type(error).__name__}: "
                                                             f"{error}", 500))

    def _region(self, environ: dict[str, Any]) -> str:
        match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        return match.group(1) if match else self._default_region

    def _serve_ecs(
        self, operation: str, environ: dict[str, Any], body: bytes, start_response: StartResponse
    ) -> Iterable[bytes]:
        region = self._region(environ)
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = None
        try:
            if not isinstance(params, dict):
                raise EcsError("SerializationException", "The request body is not a JSON object.")
            result = self._ecs.call(region, operation, params)
            status, payload = 200, result
        except EcsError as error:
            status, payload = error.status, {"__type": error.code, "message": error.message}
        except KeyError as error:
            status, payload = 400, {"__type": "InvalidParameterException", "message": f"{error} is required."}
        except Exception as error:  # a sandbox bug must show as a 500 with its cause, not kill the server
            log.exception("sandbox ECS failed on %s", operation)
            status, payload = 500, {"__type": "ServerException", "message": f"{type(error).__name__}: {error}"}
        data = json.dumps(payload).encode()
        start_response(
            _status_line(status),
            [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data))),
             ("x-amzn-RequestId", "sandbox")],
        )
        return [data]

    def _control(self, name: str, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        handler = self._controls.get(name)
        if handler is None:
            return _json(start_response, 404, {"error": f"no sandbox control named {name!r}",
                                                "controls": sorted(self._controls)})
        raw = get_input_stream(environ).read()
        try:
            args = json.loads(raw) if raw else {}
            result = handler(args)
        except (KeyError, TypeError, ValueError, EcsError) as error:
            return _json(start_response, 400, {"error": str(error)})
        return _json(start_response, 200, result if result is not None else {"ok": True})


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition botocore knows (what AWS answers for)."""
    import boto3

    session = boto3.session.Session()
    return frozenset(region for partition in session.get_available_partitions()
                     for region in session.get_available_regions("ec2", partition_name=partition))


def _respond(start_response: StartResponse, response: Response) -> list[bytes]:
    status, headers, payload = response
    start_response(_status_line(status), [*headers, ("Content-Length", str(len(payload)))])
    return [payload]


def _json(start_response: StartResponse, status: int, payload: Any) -> list[bytes]:
    data = json.dumps(payload, indent=2, sort_keys=True).encode()
    start_response(_status_line(status), [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _status_line(status: int) -> str:
    from http import HTTPStatus

    return f"{status} {HTTPStatus(status).phrase}"

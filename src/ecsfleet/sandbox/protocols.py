"""Which AWS operation a request is, from its wire form, and how each protocol says 'error'."""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[a-z0-9-]+/([a-z0-9-]+)/aws4_request")
SERVICES = (
    "ecs", "ec2", "elb", "elbv2", "route53", "s3", "sqs", "events", "ssm", "cloudformation",
    "autoscaling", "sts", "iam", "dynamodb", "cloudwatch", "lambda", "logs", "sns",
)


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    protocol: str


@functools.cache
def _model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@functools.cache
def _by_signing_name() -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for service in SERVICES:
        meta = _model(service).metadata
        names.setdefault(meta.get("signingName") or meta["endpointPrefix"], []).append(service)
    return names


@functools.cache
def _rest_matchers(service: str) -> list[tuple[str, re.Pattern[str], tuple[str, ...], int, str]]:
    matchers = []
    model = _model(service)
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, query = http["requestUri"].partition("?")
        pattern = "^"
        literal = 0
        for part in re.split(r"(\{[^}]+\})", path):
            if part.startswith("{"):
                pattern += ".+" if part.endswith("+}") else "[^/]+"
            else:
                pattern += re.escape(part)
                literal += len(part)
        if path.endswith("/") and path != "/":
            pattern += "?"
        keys = tuple(k.split("=")[0] for k in query.split("&") if k)
        # Operations that share a path (PutObject, UploadPart, CopyObject) differ in the query
        # parameters and headers they require.
        shape = model.operation_model(name).input_shape
        if shape is not None:
            for member_name, member in shape.members.items():
                location = member.serialization.get("location")
                if member_name in shape.required_members and location in ("querystring", "header"):
                    wire = member.serialization.get("name", member_name)
                    keys += (wire if location == "querystring" else "header:" + wire.lower(),)
        matchers.append((http["method"], re.compile(pattern + "/?$"), keys, literal + 10 * len(keys), name))
    return matchers


def _params(environ: Mapping[str, Any], body: bytes) -> dict[str, list[str]]:
    params = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        params.update(urllib.parse.parse_qs(body.decode(errors="replace"), keep_blank_values=True))
    return params


def identify(environ: Mapping[str, Any], body: bytes) -> Operation | None:
    """The (botocore service, operation) of a SigV4-signed request; None when it cannot tell."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not scope:
        return None
    candidates = _by_signing_name().get(scope.group(1), [])
    if not candidates:
        return None
    params = _params(environ, body)
    service = candidates[0]
    if len(candidates) > 1:  # elb and elbv2 share a signing name; the API version tells them apart
        version = (params.get("Version") or [""])[0]
        service = next((c for c in candidates if _model(c).api_version == version), service)
    protocol = _model(service).protocol
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return Operation(service, target.rsplit(".", 1)[-1], protocol)
    if protocol in ("query", "ec2") or "Action" in params:
        action = (params.get("Action") or [""])[0]
        return Operation(service, action, protocol) if action else None
    path = urllib.parse.unquote(environ.get("PATH_INFO", "/"))
    method = environ.get("REQUEST_METHOD", "GET")
    best: tuple[int, str] | None = None
    for verb, pattern, keys, score, name in _rest_matchers(service):
        if verb == method and pattern.match(path) and all(_present(k, params, environ) for k in keys) and (
            best is None or score > best[0]
        ):
            best = (score, name)
    return Operation(service, best[1], protocol) if best else None


def _present(key: str, params: Mapping[str, Any], environ: Mapping[str, Any]) -> bool:
    if key.startswith("header:"):
        return "HTTP_" + key.removeprefix("header:").upper().replace("-", "_") in environ
    return key in params


def error_response(op: Operation, kind: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """A throttling or server error in the wire format of the operation's protocol."""
    throttle = kind == "throttle"
    request_id = [("x-amzn-RequestId", "sandbox-fault"), ("x-amz-request-id", "sandbox-fault")]
    if op.protocol == "json":
        version = _model(op.service).metadata.get("jsonVersion", "1.1")
        code, status = ("ThrottlingException", 400) if throttle else ("InternalFailure", 500)
        payload = json.dumps({"__type": code, "message": "Rate exceeded" if throttle else "Internal failure"})
        return status, [("Content-Type", f"application/x-amz-json-{version}"), *request_id], payload.encode()
    if op.protocol == "rest-json":
        code, status = ("ThrottlingException", 429) if throttle else ("ServiceException", 500)
        return status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), *request_id], \
            json.dumps({"message": code}).encode()
    if op.protocol == "ec2":
        code, status = ("RequestLimitExceeded", 503) if throttle else ("InternalError", 500)
        xml = (f"<Response><Errors><Error><Code>{code}</Code><Message>{code}</Message></Error></Errors>"
               "<RequestID>sandbox-fault</RequestID></Response>")
        return status, [("Content-Type", "text/xml"), *request_id], xml.encode()
    if op.service == "s3":
        code, status = ("SlowDown", 503) if throttle else ("InternalError", 500)
        xml = f"<Error><Code>{code}</Code><Message>{code}</Message><RequestId>sandbox-fault</RequestId></Error>"
        return status, [("Content-Type", "application/xml"), *request_id], xml.encode()
    code, status = ("Throttling", 400) if throttle else ("ServiceUnavailable", 503)
    kind_of = "Sender" if throttle else "Receiver"
    xml = (f"<ErrorResponse><Error><Type>{kind_of}</Type><Code>{code}</Code><Message>{code}</Message></Error>"
           "<RequestId>sandbox-fault</RequestId></ErrorResponse>")
    return status, [("Content-Type", "text/xml"), *request_id], xml.encode()

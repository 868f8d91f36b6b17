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


def signed_service(environ: Mapping[str, Any], body: bytes) -> tuple[str, str] | None:
    """(botocore service, protocol) a SigV4-signed request is for; None for an unsigned request or
    a service the sandbox does not serve."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not scope:
        return None
    candidates = _by_signing_name().get(scope.group(1), [])
    if not candidates:
        return None
    service = candidates[0]
    if len(candidates) > 1:  # elb and elbv2 share a signing name; the API version tells them apart
        version = (_params(environ, body).get("Version") or [""])[0]
        service = next((c for c in candidates if _model(c).api_version == version), service)
    return service, _model(service).protocol


def identify(environ: Mapping[str, Any], body: bytes) -> Operation | None:
    """The (botocore service, operation) of a SigV4-signed request; None when it cannot tell."""
    signed = signed_service(environ, body)
    if signed is None:
        return None
    service, protocol = signed
    params = _params(environ, body)
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


Response = tuple[int, list[tuple[str, str]], bytes]


def error_response(op: Operation, kind: str) -> Response:
    """A throttling or server error in the wire format of the operation's protocol."""
    throttle = kind == "throttle"
    if op.protocol == "json":
        code, status = ("ThrottlingException", 400) if throttle else ("InternalFailure", 500)
        return refusal_response(op, code, "Rate exceeded" if throttle else "Internal failure", status)
    if op.protocol == "rest-json":
        code, status = ("ThrottlingException", 429) if throttle else ("ServiceException", 500)
    elif op.protocol == "ec2":
        code, status = ("RequestLimitExceeded", 503) if throttle else ("InternalError", 500)
    elif op.service == "s3":
        code, status = ("SlowDown", 503) if throttle else ("InternalError", 500)
    else:
        code, status = ("Throttling", 400) if throttle else ("ServiceUnavailable", 503)
    return refusal_response(op, code, code, status)


def refusal_response(op: Operation, code: str, message: str, status: int = 400) -> Response:
    """An AWS error in the wire format of the operation's protocol, as botocore parses it."""
    request_id = [("x-amzn-RequestId", "sandbox"), ("x-amz-request-id", "sandbox")]
    if op.protocol == "json":
        metadata = _model(op.service).metadata
        version = metadata.get("jsonVersion", "1.1")
        headers = [("Content-Type", f"application/x-amz-json-{version}"), *request_id]
        if "awsQueryCompatible" in metadata:
            # SQS moved from the query protocol to JSON and kept its query error codes: AWS sends
            # the modelled shape's name as __type and the query code in x-amzn-query-error, and
            # botocore reports the latter as Error.Code (the former as QueryErrorCode).
            kind = "Sender" if status < 500 else "Receiver"
            headers.append(("x-amzn-query-error", f"{code};{kind}"))
            code = _query_error_shapes(op.service).get(code, code)
        payload = json.dumps({"__type": code, "message": message})
        return status, headers, payload.encode()
    if op.protocol == "rest-json":
        return status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), *request_id], \
            json.dumps({"message": message}).encode()
    text = xml_escape(message)
    if op.protocol == "ec2":
        xml = (f"<Response><Errors><Error><Code>{code}</Code><Message>{text}</Message></Error></Errors>"
               "<RequestID>sandbox</RequestID></Response>")
        return status, [("Content-Type", "text/xml"), *request_id], xml.encode()
    if op.service == "s3":
        xml = f"<Error><Code>{code}</Code><Message>{text}</Message><RequestId>sandbox</RequestId></Error>"
        return status, [("Content-Type", "application/xml"), *request_id], xml.encode()
    kind_of = "Sender" if status < 500 else "Receiver"
    xml = (f"<ErrorResponse><Error><Type>{kind_of}</Type><Code>{code}</Code><Message>{text}</Message></Error>"
           "<RequestId>sandbox</RequestId></ErrorResponse>")
    return status, [("Content-Type", "text/xml"), *request_id], xml.encode()


@functools.cache
def _query_error_shapes(service: str) -> dict[str, str]:
    """A query-compatible service's legacy error codes -> the shape names its JSON errors carry
    (AWS.SimpleQueueService.NonExistentQueue -> QueueDoesNotExist). botocore's JSON model leaves
    the legacy codes out; moto's copy of the model keeps them."""
    from moto.core.utils import get_service_model

    shapes: list[Any] = get_service_model(service).error_shapes
    return {shape.error_code: shape.name for shape in shapes if shape.error_code != shape.name}


class UnknownOperation(ValueError):
    """A request naming an operation the service does not have."""


# The code each protocol answers a request it cannot read with.
MALFORMED = {"json": "SerializationException", "rest-json": "SerializationException", "rest-xml": "MalformedXML",
             "query": "ValidationError", "ec2": "InvalidParameterValue"}


def unknown_operation(op: Operation) -> Response:
    """AWS's answer to an operation the service does not have."""
    if op.protocol in ("query", "ec2"):
        return refusal_response(op, "InvalidAction", f"The action {op.name} is not valid for this web service.")
    if op.protocol.startswith("rest"):
        return refusal_response(op, "UnknownOperationException", f"No operation of the API matches {op.name}.", 404)
    return refusal_response(op, "UnknownOperationException", f"Unknown operation {op.name}.")


def parse_input(op: Operation, environ: Mapping[str, Any], body: bytes) -> dict[str, Any]:
    """The operation's input in botocore's shape (what the boto3 method was called with), read
    from the wire by moto's own protocol parsers. Raises ValueError when the request cannot be
    read as the operation's input."""
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.utils import get_service_model
    from werkzeug.datastructures import Headers, MultiDict

    if op.protocol == "json":  # moto's JSON parser reads a body that is not JSON as `{}`
        try:
            json.loads(body or b"{}")
        except ValueError as error:
            raise ValueError(f"the request body is not JSON: {error}") from error
    try:
        operation = get_service_model(op.service).operation_model(op.name)
    except Exception as error:  # botocore raises OperationNotFoundError, a KeyError cousin
        raise UnknownOperation(op.name) from error
    values: MultiDict[str, str] = MultiDict()
    for key, items in _params(environ, body).items():
        for item in items:
            values.add(key, item)
    headers = Headers()
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.add(key[5:].replace("_", "-").title(), value)
    if environ.get("CONTENT_TYPE"):
        headers.add("Content-Type", environ["CONTENT_TYPE"])
    path = urllib.parse.unquote(environ.get("PATH_INFO", "/"))
    request: Any = {
        "method": environ.get("REQUEST_METHOD", "GET"),
        "values": values,
        "headers": headers,
        "body": body,
        "url_path": path,
        "url_params": _url_params(op, path),
    }
    try:
        parsed = PROTOCOL_PARSERS[op.protocol](operation).parse(request)
    except Exception as error:  # moto's parsers raise whatever the malformed input makes them raise
        raise ValueError(f"cannot read the {op.name} request: {error}") from error
    return dict(parsed)


def _url_params(op: Operation, path: str) -> dict[str, str]:
    """The values of the `{Label}` parts of a REST operation's request URI."""
    if op.protocol not in ("rest-xml", "rest-json"):
        return {}
    uri = _model(op.service).operation_model(op.name).http["requestUri"].partition("?")[0]
    names: list[str] = []
    pattern = "^"
    for part in re.split(r"(\{[^}]+\})", uri):
        if part.startswith("{"):
            names.append(part.strip("{}+"))
            pattern += "(.+)" if part.endswith("+}") else "([^/]+)"
        else:
            pattern += re.escape(part)
    match = re.match(pattern.rstrip("/") + "/?$", path)
    return dict(zip(names, match.groups(), strict=True)) if match else {}


def xml_escape(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text)

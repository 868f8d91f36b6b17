"""One way to reach AWS: boto3 clients with the region, endpoint, retries and timeouts ecsfleet
wants, and the two read patterns every capability uses (paginate to the end; describe in
batches of the API's maximum).

boto3 and botocore are imported when first needed (a target's profile, a client, an error to
explain), never at import: importing them takes longer than all else `ecsfleet --help` and
`ecsfleet --version` do (docs/benchmarks.md, start-up).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import UserError

if TYPE_CHECKING:
    import botocore.config

T = TypeVar("T")
R = TypeVar("R")

# Adaptive mode adds client-side rate limiting on top of standard retries: what a controller
# that shares an account's API quota with other tools needs when it is throttled.
DEFAULT_MAX_ATTEMPTS = 5
CONNECT_TIMEOUT = 5
# AWS's control-plane calls answer in well under a second; an endpoint silent for this long is
# not going to answer, and a timed-out call is retried once only (TIMEOUT_ATTEMPTS), so a silent
# endpoint fails in about twice this, not after every attempt of the retry budget.
READ_TIMEOUT = 10
TIMEOUT_ATTEMPTS = 2
# SQS long polls wait up to 20 s for a message before answering: their reads need longer.
LONG_POLL_READ_TIMEOUT = 30

REGION_NAME = re.compile(r"[a-z]{2}(-[a-z0-9]+)+-\d+")  # botocore's own check is looser

_deadline = threading.local()  # per thread: a pass runs in one thread, the SQS poller in another


class DeadlineReached(Exception):
    """A pass ran out of time (its deadline, a shutdown's grace period, a Lambda's remaining
    time): no further AWS call is started, so no new change begins."""


@contextlib.contextmanager
def deadline(seconds: float | None, why: str) -> Iterator[None]:
    """No AWS call of this thread starts after `seconds` from now (None: no limit)."""
    previous = getattr(_deadline, "value", None)
    _deadline.value = None if seconds is None else (time.monotonic() + seconds, why)
    try:
        yield
    finally:
        _deadline.value = previous


def shorten_deadline(seconds: float, why: str) -> None:
    """Bring this thread's deadline forward to at most `seconds` from now (a shutdown's grace)."""
    current = getattr(_deadline, "value", None)
    at = time.monotonic() + seconds
    if current is None or at < current[0]:
        _deadline.value = (at, why)


def _check_deadline(**_: Any) -> None:
    if getattr(_deadline, "changing", 0):
        return  # inside one change: its calls belong together (see one_change)
    current = getattr(_deadline, "value", None)
    if current is not None and time.monotonic() >= current[0]:
        raise DeadlineReached(f"{current[1]}: no further AWS call started")


@contextlib.contextmanager
def one_change() -> Iterator[None]:
    """The calls of one change that spans several (a listener's delete and re-create, a drain's
    mark, state change and confirmation): the deadline is checked once, before the first, and
    never between them, so a deadline or a shutdown never cuts a change it let begin."""
    _check_deadline()
    _deadline.changing = getattr(_deadline, "changing", 0) + 1
    try:
        yield
    finally:
        _deadline.changing -= 1


def _give_up_on_silence(attempts: int, caught_exception: BaseException | None = None, **_: Any) -> None:
    """Registered ahead of botocore's retry handler: a second timeout ends the call."""
    import botocore.exceptions

    if isinstance(caught_exception, botocore.exceptions.ReadTimeoutError
                  | botocore.exceptions.ConnectTimeoutError) and attempts >= TIMEOUT_ATTEMPTS:
        raise caught_exception


@dataclass(frozen=True)
class AwsTarget:
    """Where ecsfleet talks to: a region and, for the sandbox or a VPC endpoint, an endpoint URL.

    boto3 itself also honours `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`; an explicit
    endpoint here wins over them.
    """

    region: str
    endpoint_url: str | None = None
    profile: str | None = None

    @classmethod
    def resolve(cls, region: str | None = None, endpoint_url: str | None = None,
                profile: str | None = None) -> AwsTarget:
        import boto3.session
        import botocore.exceptions

        try:
            session = boto3.session.Session(profile_name=profile)
        except botocore.exceptions.ProfileNotFound as error:
            raise UserError(f"AWS profile {profile!r} not found (--profile, AWS_PROFILE): see `aws configure "
                            "list-profiles`") from error
        chosen = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") \
            or session.region_name
        if not chosen:
            raise UserError("no AWS region: pass --region or set AWS_REGION")
        if not REGION_NAME.fullmatch(chosen):
            raise UserError(f"region {chosen!r}: expected a region name such as eu-west-1")
        if endpoint_url:
            parsed = urllib.parse.urlparse(endpoint_url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise UserError(f"endpoint {endpoint_url!r} (--endpoint-url, AWS_ENDPOINT_URL): expected an "
                                "http:// or https:// URL, such as http://127.0.0.1:4566")
        return cls(region=chosen, endpoint_url=endpoint_url or None, profile=profile)


@dataclass
class Clients:
    """Creates each boto3 client once and hands it out by service name."""

    target: AwsTarget
    max_attempts: int | None = None
    _session: Any = field(default=None, init=False, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __call__(self, service: str) -> Any:
        client = self._cache.get(service)
        if client is None:
            if self._session is None:
                import boto3.session

                self._session = boto3.session.Session(profile_name=self.target.profile)
            client = self._session.client(
                service,
                region_name=self.target.region,
                endpoint_url=self.target.endpoint_url,
                config=client_config(self.max_attempts,
                                     LONG_POLL_READ_TIMEOUT if service == "sqs" else READ_TIMEOUT),
            )
            client.meta.events.register("before-call", _check_deadline)
            client.meta.events.register_first("needs-retry", _give_up_on_silence)
            self._cache[service] = client
        return client


def client_config(max_attempts: int | None = None, read_timeout: float | None = None) -> botocore.config.Config:
    """Adaptive retries; AWS_MAX_ATTEMPTS (the AWS SDKs' own variable) still sets the attempts."""
    import botocore.config

    attempts = max_attempts or max_attempts_from_env()
    return botocore.config.Config(
        retries={"mode": "adaptive", "total_max_attempts": attempts},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT if read_timeout is None else read_timeout,
        user_agent_extra="ecsfleet",
    )


def max_attempts_from_env() -> int:
    raw = os.environ.get("AWS_MAX_ATTEMPTS") or str(DEFAULT_MAX_ATTEMPTS)
    try:
        attempts = int(raw)
    except ValueError:
        attempts = 0
    if not 1 <= attempts <= 20:
        raise UserError(f"AWS_MAX_ATTEMPTS={raw!r}: expected a whole number from 1 to 20")
    return attempts


def paginate(client: Any, operation: str, result_key: str, **params: Any) -> list[Any]:
    """Every item of a paginated list call, all pages."""
    items: list[Any] = []
    for page in client.get_paginator(operation).paginate(**params):
        items.extend(page.get(result_key, []))
    return items


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def describe_in_batches(
    items: Sequence[T], size: int, describe: Callable[[Sequence[T]], Iterable[R]]
) -> list[R]:
    """Call `describe` once per batch of at most `size` items (the API's maximum) and join the results."""
    found: list[R] = []
    for batch in batches(items, size):
        found.extend(describe(batch))
    return found


def aws_errors() -> tuple[type[BaseException], ...]:
    """What an AWS call raises that a command ends with one line: botocore's errors and a pass's
    deadline. For an `except` clause, which evaluates it only once an error reaches it."""
    import botocore.exceptions

    return botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, DeadlineReached


def error_code(error: BaseException) -> str | None:
    import botocore.exceptions

    if isinstance(error, botocore.exceptions.ClientError):
        code: str | None = error.response.get("Error", {}).get("Code")
        return code
    return None


UNREACHABLE_HINT = ("check the network, or start the sandbox with `ecsfleet sandbox up` and export the "
                    "AWS_ENDPOINT_URL it prints")


def explain_connection_error(error: BaseException, endpoint: str | None) -> str | None:
    """A one-line hint for the failures a user fixes outside ecsfleet, or None."""
    import botocore.exceptions

    if isinstance(error, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
        return ("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                "(for the sandbox any value works)")
    where = endpoint or getattr(error, "kwargs", {}).get("endpoint_url") or "AWS"
    if isinstance(error, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectTimeoutError):
        return f"cannot reach {where}: {UNREACHABLE_HINT}"
    if isinstance(error, botocore.exceptions.ReadTimeoutError | botocore.exceptions.ConnectionClosedError):
        return f"no answer from {where} (read timeout {READ_TIMEOUT:g} s, {TIMEOUT_ATTEMPTS} tries): {UNREACHABLE_HINT}"
    if isinstance(error, DeadlineReached):
        return str(error)
    if isinstance(error, botocore.exceptions.ClientError) and error_code(error) in (
        "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
        "AuthFailure", "SignatureDoesNotMatch",
    ):
        return f"AWS rejected the credentials ({error_code(error)}): refresh them or choose another profile"
    return None

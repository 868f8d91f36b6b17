"""One way to reach AWS: boto3 clients with the region, endpoint, retries and timeouts ecsfleet
wants, and the two read patterns every capability uses (paginate to the end; describe in
batches of the API's maximum)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
import botocore.config
import botocore.exceptions

from .errors import UserError

T = TypeVar("T")
R = TypeVar("R")

# Adaptive mode adds client-side rate limiting on top of standard retries: what a controller
# that shares an account's API quota with other tools needs when it is throttled.
DEFAULT_MAX_ATTEMPTS = 5
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30


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
        session = boto3.session.Session(profile_name=profile)
        chosen = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") \
            or session.region_name
        if not chosen:
            raise UserError("no AWS region: pass --region or set AWS_REGION")
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
                self._session = boto3.session.Session(profile_name=self.target.profile)
            client = self._session.client(
                service,
                region_name=self.target.region,
                endpoint_url=self.target.endpoint_url,
                config=client_config(self.max_attempts),
            )
            self._cache[service] = client
        return client


def client_config(max_attempts: int | None = None) -> botocore.config.Config:
    """Adaptive retries; AWS_MAX_ATTEMPTS (the AWS SDKs' own variable) still sets the attempts."""
    attempts = max_attempts or int(os.environ.get("AWS_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS)
    return botocore.config.Config(
        retries={"mode": "adaptive", "total_max_attempts": attempts},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        user_agent_extra="ecsfleet",
    )


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


def error_code(error: BaseException) -> str | None:
    if isinstance(error, botocore.exceptions.ClientError):
        code: str | None = error.response.get("Error", {}).get("Code")
        return code
    return None


def explain_connection_error(error: BaseException, endpoint: str | None) -> str | None:
    """A one-line hint for the failures a user fixes outside ecsfleet, or None."""
    if isinstance(error, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
        return ("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                "(for the sandbox any value works)")
    if isinstance(error, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectTimeoutError):
        where = endpoint or getattr(error, "kwargs", {}).get("endpoint_url") or "AWS"
        return (f"cannot reach {where}: check the network, or start the sandbox with "
                "`ecsfleet sandbox up` and export the AWS_ENDPOINT_URL it prints")
    if isinstance(error, botocore.exceptions.ClientError) and error_code(error) in (
        "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
        "AuthFailure", "SignatureDoesNotMatch",
    ):
        return f"AWS rejected the credentials ({error_code(error)}): refresh them or choose another profile"
    return None

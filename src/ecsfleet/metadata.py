"""EC2 instance metadata (IMDSv2): who is this host."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

from .errors import UserError

DEFAULT_ENDPOINT = "http://169.254.169.254"


def endpoint() -> str:
    # botocore's own variable, so one setting points both at a test double.
    return os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def fetch(path: str, timeout: float = 2.0) -> str:
    """One metadata value, with an IMDSv2 session token."""
    base = endpoint()
    try:
        token_request = urllib.request.Request(
            f"{base}/latest/api/token", method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        with urllib.request.urlopen(token_request, timeout=timeout) as response:
            token = response.read().decode()
        request = urllib.request.Request(f"{base}/latest/meta-data/{path}",
                                         headers={"X-aws-ec2-metadata-token": token})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return str(response.read().decode().strip())
    except (urllib.error.URLError, OSError) as error:
        raise UserError(
            f"cannot read {path} from EC2 instance metadata at {base} ({getattr(error, 'reason', error)}): "
            "not on EC2? pass the value explicitly"
        ) from error


def instance_id() -> str:
    return fetch("instance-id")

"""EC2 instance metadata: who is this host. IMDSv2 (a session token), falling back to IMDSv1 where
the token call is refused, through botocore's own IMDS fetcher (its retries, timeouts and
environment variables: AWS_EC2_METADATA_DISABLED, AWS_EC2_METADATA_V1_DISABLED)."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from botocore.utils import IMDSFetcher

from .errors import UserError

log = logging.getLogger(__name__)
DEFAULT_ENDPOINT = "http://169.254.169.254"
_fell_back = threading.Event()  # the IMDSv1 fallback is logged once a process


def endpoint() -> str:
    # botocore's own variable, so one setting points both at a test double.
    return os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def _server_error(response: Any) -> bool:
    """What botocore retries: a 404 is an answer (no such value), not a failure."""
    return bool(response.status_code >= 500)


class _Fetcher(IMDSFetcher):
    """botocore's fetcher gives its token and GET steps to its own subclasses only (region,
    credentials); this is one more, for any metadata path."""

    def value(self, path: str) -> str | None:
        """The value at `path`, or None where metadata has none (404: no public IP, say)."""
        # None: the token call was refused (403, 404, 405) or timed out: IMDSv1, unless disabled.
        token = self._fetch_metadata_token()  # type: ignore[attr-defined]
        if token is None and not _fell_back.is_set():
            _fell_back.set()
            log.warning("EC2 instance metadata refused an IMDSv2 token at %s: using IMDSv1", self.get_base_url())
        response = self._get_request(f"latest/meta-data/{path}", _server_error, token)  # type: ignore[attr-defined]
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise UserError(f"EC2 instance metadata answered {response.status_code} for {path}")
        return str(response.text.strip())


def fetch(path: str, timeout: int = 2, optional: bool = False) -> str | None:
    """One metadata value (None for a value the host has not, when `optional`)."""
    base = endpoint()
    v1_disabled = os.environ.get("AWS_EC2_METADATA_V1_DISABLED", "").lower() == "true"
    try:
        found = _Fetcher(timeout=timeout, num_attempts=2, base_url=base,
                         config={"ec2_metadata_v1_disabled": v1_disabled}).value(path)
    except UserError:
        raise
    except Exception as error:  # botocore's retries exhausted, a refused v1 call, a bad endpoint
        raise UserError(
            f"cannot read {path} from EC2 instance metadata at {base} ({error or type(error).__name__}): "
            "not on EC2? pass the value explicitly"
        ) from error
    if found is None and not optional:
        raise UserError(f"EC2 instance metadata at {base} has no {path}: pass the value explicitly")
    return found


def instance_id() -> str:
    return str(fetch("instance-id"))

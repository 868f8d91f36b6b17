"""Helpers for the per-rule tests of the sandbox's fidelity layer (tests/test_rules_<service>.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pytest


def refused(call: Callable[..., Any], code: str, status: int = 400, /, **kwargs: Any) -> dict[str, Any]:
    """Make the call; assert AWS's refusal `code` with HTTP `status`; return the error dict
    (`Code`, `Message`, ...) for further checks."""
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**kwargs)
    error: dict[str, Any] = caught.value.response["Error"]
    assert error["Code"] == code, error
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status, caught.value.response
    return error

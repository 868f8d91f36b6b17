"""Least privilege: the IAM permissions of each capability, as data (see `policies`)."""

from __future__ import annotations

from .policies import CAPABILITIES, Scope, allows, audit, iam_action, policy

__all__ = ["CAPABILITIES", "Scope", "allows", "audit", "iam_action", "policy"]

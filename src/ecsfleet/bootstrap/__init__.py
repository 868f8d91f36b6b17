"""Shipping the cluster-wide controllers: a CloudFormation template of scheduled Lambda functions."""

from __future__ import annotations

from .template import CONTROLLERS, Options, render

__all__ = ["CONTROLLERS", "Options", "render"]

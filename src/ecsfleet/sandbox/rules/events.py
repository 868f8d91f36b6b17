"""The sandbox's rules for events: each a documented refusal of the API, checked before the emulator."""

from __future__ import annotations

from .base import Rule

RULES: tuple[Rule, ...] = ()

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = ()

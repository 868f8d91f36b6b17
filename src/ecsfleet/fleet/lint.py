"""Rendered templates are checked with cfn-lint before anything is deployed."""

from __future__ import annotations

import json
from typing import Any


def lint(template: dict[str, Any]) -> list[str]:
    """cfn-lint errors and warnings (informational notes are left out), one line each."""
    import logging

    import cfnlint.api

    # cfn-lint logs each scan at INFO on the root logger: noise in a command's output.
    logging.getLogger("cfnlint").setLevel(logging.WARNING)

    matches = cfnlint.api.lint_all(json.dumps(template))
    return [f"{m.rule.id} {m.message}" for m in matches if not m.rule.id.startswith("I")]

"""CloudFormation templates as ecsfleet writes them: checked with cfn-lint before anything is
deployed, and printed as JSON or as YAML that CloudFormation accepts."""

from __future__ import annotations

import json
from typing import Any

import yaml


def lint(template: dict[str, Any]) -> list[str]:
    """cfn-lint errors and warnings (informational notes are left out), one line each."""
    import logging

    import cfnlint.api

    # cfn-lint logs each scan at INFO on the root logger: noise in a command's output.
    logging.getLogger("cfnlint").setLevel(logging.WARNING)

    matches = cfnlint.api.lint_all(json.dumps(template))
    return [f"{m.rule.id} {m.message}" for m in matches if not m.rule.id.startswith("I")]


class _NoAliases(yaml.SafeDumper):
    """CloudFormation refuses YAML aliases, which PyYAML writes for any object used twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(template: dict[str, Any]) -> str:
    return str(yaml.dump(template, Dumper=_NoAliases, sort_keys=False, width=120))

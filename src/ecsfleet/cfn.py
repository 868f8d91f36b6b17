"""CloudFormation templates as ecsfleet writes them: checked with cfn-lint before anything is
deployed, and printed as JSON or as YAML that CloudFormation accepts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml


def lint(template: dict[str, Any], regions: Sequence[str] | None = None) -> list[str]:
    """cfn-lint errors and warnings (informational notes are left out), one line each, for the
    regions the stack goes to (default: every region). A region matters: instance types,
    CodeBuild and CodeStar connections are not offered everywhere."""
    import logging

    import cfnlint.api
    from cfnlint.api import ManualArgs

    # cfn-lint logs each scan at INFO on the root logger: noise in a command's output.
    logging.getLogger("cfnlint").setLevel(logging.WARNING)

    text = json.dumps(template)
    matches = (cfnlint.api.lint_all(text) if regions is None
               else cfnlint.api.lint(text, config=ManualArgs(include_experimental=True, regions=list(regions))))
    return [f"{m.rule.id} {m.message}" for m in matches if not m.rule.id.startswith("I")]


class _NoAliases(yaml.SafeDumper):
    """CloudFormation refuses YAML aliases, which PyYAML writes for any object used twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(template: dict[str, Any]) -> str:
    return str(yaml.dump(template, Dumper=_NoAliases, sort_keys=False, width=120))

"""The fidelity layer as a whole: every rule is documented, sourced, tested, and in the docs page."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ecsfleet.sandbox.rules import ALL_RULES, rules_for
from ecsfleet.sandbox.rules.table import markdown

ROOT = Path(__file__).resolve().parent.parent


def _test_functions(test_file: str) -> set[str]:
    path = ROOT / test_file
    if not path.exists():
        return set()
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_rule_names_are_unique_and_snake_case() -> None:
    names = [r.name for r in ALL_RULES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)


def test_every_rule_cites_aws_documentation() -> None:
    for r in ALL_RULES:
        assert r.source.startswith("https://docs.aws.amazon.com/"), (r.name, r.source)
        assert r.summary and r.operations


def test_every_enforced_rule_has_its_own_test() -> None:
    missing = [r.test_name for r in ALL_RULES if r.enforced and f"test_{r.name}" not in _test_functions(r.test_file)]
    assert not missing


def test_a_rule_not_enforced_says_why() -> None:
    assert all(r.not_enforced for r in ALL_RULES if not r.enforced)


def test_the_registry_indexes_rules_by_operation() -> None:
    for r in ALL_RULES:
        for operation in r.operations:
            assert (r in rules_for(r.service, operation)) == r.enforced


def test_the_fidelity_page_is_generated_from_the_rules() -> None:
    page = (ROOT / "docs" / "sandbox-fidelity.md").read_text()
    assert page == markdown(), "regenerate: python -m ecsfleet.sandbox.rules.table > docs/sandbox-fidelity.md"


def test_the_fidelity_page_covers_enough_rules() -> None:
    enforced = [r for r in ALL_RULES if r.enforced]
    assert len(ALL_RULES) >= 60
    assert len(enforced) >= 0.9 * len(ALL_RULES)


def _operations_ecsfleet_calls() -> set[tuple[str, str]]:
    """(botocore service, operation) of every API call the capabilities make themselves: their IAM
    grants, less what CloudFormation does for the caller (StackResources) and iam:PassRole (no API)."""
    from ecsfleet.iam import policies

    services = {"elasticloadbalancing": "elb"}
    calls = set()
    for capability in (policies.LB_SYNC, policies.DNS_SYNC, policies.AGENTS, policies.FLEET):
        for grant in capability.grants:
            if grant.sid in ("StackResources", "PassNodeRoles"):
                continue
            for action in grant.actions:
                prefix, operation = action.split(":")
                calls.add((services.get(prefix, prefix), operation))
    return calls


def test_every_operation_ecsfleet_calls_has_rules_of_its_own() -> None:
    covered = {(r.service, op) for r in ALL_RULES for op in r.operations}
    missing = sorted(_operations_ecsfleet_calls() - covered)
    assert not missing, f"operations with no documented refusal in the sandbox: {missing}"

"""`ecsfleet fleet init`: a cluster repository in one command, what ecs-cluster-deployer's
`boilr template use latest .` wrote (infra.yml and a Makefile), plus the GitHub Actions workflow
that rolls out every push and a .gitignore.

Pure: `scaffold(answers)` returns the files; `conflicts` says which already exist. The command
writes them only when none would be overwritten (or with --force).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from .pipeline import Stage, workflow
from .schema import Infra, parse_infra

DEFAULT_INSTANCE_TYPES = ("t3.medium", "t3a.medium")
# A spot bid is the most paid per instance-hour; spot prices of these types sit far below it.
DEFAULT_SPOT_PRICE = 0.05
SCAFFOLD_ALLOCATION_STRATEGY = "priceCapacityOptimized"
WORKFLOW_PATH = ".github/workflows/deploy.yml"


@dataclass(frozen=True)
class Answers:
    cluster: str
    region: str
    vpc: str | None = None
    subnets: tuple[str, ...] = ()
    spot: bool = True
    instance_types: tuple[str, ...] = DEFAULT_INSTANCE_TYPES
    spot_price: float = DEFAULT_SPOT_PRICE
    branch: str = "main"


def _network(answers: Answers) -> str:
    if not answers.vpc:
        return ("  # No vpc/subnets: the region's default VPC and one subnet per zone. To choose:\n"
                "  # vpc: vpc-0abc1234\n"
                "  # subnets: [subnet-0abc1234, subnet-0def5678]\n")
    subnets = ", ".join(answers.subnets)
    return f"  vpc: {answers.vpc}\n  subnets: [{subnets}]\n"


def _compute(answers: Answers) -> str:
    if answers.spot:
        bids = "".join(f"        - instance_type: {t}\n          price: {answers.spot_price}\n"
                       for t in answers.instance_types)
        return ("  # Spot capacity: every bid in every subnet. A bid's price is the most paid per\n"
                "  # instance-hour; weight (default 1) is what one instance counts for.\n"
                "  spot_fleets:\n"
                "    - name: main\n"
                "      timeout: 2m            # ECS_CONTAINER_STOP_TIMEOUT of the nodes\n"
                "      desired_weight: 2\n"
                "      min_weight: 1\n"
                "      max_weight: 8\n"
                "      # AWS's recommendation: launch from the cheapest of the pools (type and zone) least\n"
                "      # likely to be interrupted. diversified (the default) spreads over every pool instead.\n"
                f"      allocation_strategy: {SCAFFOLD_ALLOCATION_STRATEGY}\n"
                "      bids:\n" + bids)
    return ("  # On-demand capacity: one Auto Scaling group (add groups for more instance types).\n"
            "  auto_scaling_groups:\n"
            "    - name: main\n"
            f"      instance_type: {answers.instance_types[0]}\n"
            "      desired_instances: 2\n"
            "      min_size: 1\n"
            "      max_size: 6\n")


def infra_yml(answers: Answers) -> str:
    return (
        f"# The cluster {answers.cluster}: ecs-cluster-deployer's infra.yml format, read by ecsfleet.\n"
        "# Every key, its default and its meaning: ecsfleet's docs/fleet.md.\n"
        "# `make validate` checks it; every push to the branch rolls out a new version (make rollout by hand).\n"
        "kind: aws-ecs-cluster-deployer\n"
        "cluster:\n"
        f"  name: {answers.cluster}\n"
        + _network(answers)
        + "ec2_instances:\n"
        "  # ECS-aware scaling by `ecsfleet fleet reconcile`; old versions are drained and deleted either way.\n"
        "  autoscaling: true\n"
        "  # Scale for the tasks that cannot be placed, and consolidate under-used instances.\n"
        "  scaling: placement\n"
        "  # No ami: the recommended ECS-optimized AMI of the region, pinned when a version is created.\n"
        + _compute(answers)
        + "# Environments: one pipeline stage each, in order, each rolling out its own values file\n"
        "# (default infra.<name>.yml), optionally after a manual approval:\n"
        "# environments:\n"
        "#   - staging\n"
        "#   - {name: production, values_file: infra.production.yml, approval: true}\n"
    )


def makefile(answers: Answers) -> str:
    return (
        "# The handful of commands of a cluster repository (ecsfleet " + __version__ + ").\n"
        f"REGION ?= {answers.region}\n"
        "VALUES_FILE ?= infra.yml\n"
        "ECSFLEET ?= ecsfleet --region $(REGION)\n"
        "\n"
        ".PHONY: validate plan rollout status pipeline\n"
        "\n"
        "validate:  ## check infra.yml (every problem, with its line)\n"
        "\t$(ECSFLEET) fleet validate $(VALUES_FILE)\n"
        "\n"
        "plan:  ## what a rollout of this commit would change\n"
        "\t$(ECSFLEET) fleet plan $(VALUES_FILE)\n"
        "\n"
        "rollout:  ## deploy this commit as a new version: smoke test, switch, drain and delete the old one\n"
        "\t$(ECSFLEET) fleet rollout $(VALUES_FILE)\n"
        "\n"
        "status:  ## versions, instances and tasks\n"
        "\t$(ECSFLEET) fleet status $(VALUES_FILE)\n"
        "\n"
        "pipeline:  ## the AWS CodePipeline that rolls out every push (ecs-cluster-deployer's put-pipeline);\n"
        "           ## the GitHub repository is the git remote origin's (or add --repository OWNER/REPO)\n"
        f"\t$(ECSFLEET) fleet pipeline deploy $(VALUES_FILE) --branch {answers.branch}\n"
    )


GITIGNORE = (
    "# ecsfleet fleet render --out writes the rendered templates here\n"
    "rendered/\n"
    ".venv/\n"
    "__pycache__/\n"
    ".env\n"
)


def scaffold(answers: Answers) -> dict[str, str]:
    """Relative path -> content of every file of a new cluster repository. The workflow is the one
    `fleet pipeline render --github-actions` prints for the same infra.yml."""
    text = infra_yml(answers)
    infra: Infra = parse_infra("infra.yml", text)
    stages = [Stage(name="default", values_file="infra.yml", cluster=infra.cluster.name)]
    return {
        "infra.yml": text,
        "Makefile": makefile(answers),
        WORKFLOW_PATH: workflow(infra, stages, [answers.region], answers.branch),
        ".gitignore": GITIGNORE,
    }


def conflicts(target: Path, files: Sequence[str]) -> list[str]:
    """The files that already exist in the target folder."""
    return [name for name in files if (target / name).exists()]

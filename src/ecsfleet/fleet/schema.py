"""infra.yml, as ecs-cluster-deployer documents it (its tables are the contract), validated with
every problem reported at once, each with the file, line and key, and what was expected."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from ..errors import UserError

NAME = r"^[A-Za-z][A-Za-z0-9-]{0,39}$"
LOGICAL = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\d[a-z0-9-]*\.(nano|micro|small|medium|large|metal|\d{0,2}xlarge|metal-\d+xl)$"
DEFAULT_VALUES_FILE = "infra.yml"
VPC, SUBNET, GROUP = r"^vpc-[0-9a-f]+$", r"^subnet-[0-9a-f]+$", r"^sg-[0-9a-f]+$"
ZONE, EFS, PATH, DEVICE = r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$", r"^fs-[0-9a-f]+$", r"^/[^\s]*$", r"^/dev/[a-z0-9]+$"
MINUTES, ARN, AMI = r"^\d+m$", r"^arn:aws[a-z-]*:iam::", r"^ami-[0-9a-f]+$"
# What each pattern means, for error messages a user can act on.
EXPECTED = {
    NAME: "a name of letters, digits and hyphens starting with a letter (at most 40)",
    LOGICAL: "a name of letters, digits, '-' and '_' (at most 64)",
    INSTANCE_TYPE: "an EC2 instance type such as t3.medium or m5.2xlarge",
    VPC: "a VPC id such as vpc-0abc1234", SUBNET: "a subnet id such as subnet-0abc1234",
    GROUP: "a security group id such as sg-0abc1234", ZONE: "an availability zone such as us-west-2a",
    EFS: "an EFS file system id such as fs-0abc1234", PATH: "an absolute path such as /efs",
    DEVICE: "a device name such as /dev/xvdb", MINUTES: "minutes written like 3m",
    ARN: "an IAM instance profile ARN (arn:aws:iam::ACCOUNT:instance-profile/NAME)",
    AMI: "an AMI id such as ami-0abc1234",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClusterSpec(Strict):
    name: Annotated[str, Field(pattern=NAME, description="the name of your cluster")]
    vpc: Annotated[str | None, Field(pattern=VPC)] = None
    availability_zones: list[Annotated[str, Field(pattern=ZONE)]] = []
    subnets: list[Annotated[str, Field(pattern=SUBNET)]] = []
    security_groups: list[Annotated[str, Field(pattern=GROUP)]] = []
    security_group_ingress: list[Annotated[str, Field(pattern=GROUP)]] = []
    keypair: str | None = None


class EfsMount(Strict):
    name: Annotated[str, Field(pattern=LOGICAL)]
    efs_id: Annotated[str, Field(pattern=EFS)]
    local_path: Annotated[str, Field(pattern=PATH)]


class EbsMount(Strict):
    name: Annotated[str, Field(pattern=LOGICAL)]
    device_name: Annotated[str, Field(pattern=DEVICE)]
    size: Annotated[int, Field(ge=1, le=16384)]


class Bid(Strict):
    instance_type: Annotated[str, Field(pattern=INSTANCE_TYPE)]
    price: Annotated[float, Field(gt=0)]
    weight: Annotated[int, Field(ge=1)] = 1


class SpotFleet(Strict):
    name: Annotated[str, Field(pattern=LOGICAL)]
    timeout: Annotated[str, Field(pattern=MINUTES)] = "2m"
    desired_weight: Annotated[int, Field(ge=0)] = 1
    min_weight: Annotated[int, Field(ge=0)]
    max_weight: Annotated[int, Field(ge=0)]
    task_threshold_out: Annotated[int, Field(ge=0)] = 3
    task_threshold_in: Annotated[int, Field(ge=0)] = 10
    bids: Annotated[list[Bid], Field(min_length=1)]

    @pydantic.model_validator(mode="after")
    def _ranges(self) -> SpotFleet:
        if self.min_weight > self.max_weight:
            raise ValueError(f"min_weight {self.min_weight} is greater than max_weight {self.max_weight}")
        if self.task_threshold_out >= self.task_threshold_in:
            raise ValueError("task_threshold_out must be below task_threshold_in")
        return self

    @property
    def timeout_seconds(self) -> int:
        return int(self.timeout.removesuffix("m")) * 60


class AutoScalingGroup(Strict):
    name: Annotated[str, Field(pattern=LOGICAL)]
    instance_type: Annotated[str, Field(pattern=INSTANCE_TYPE)]
    desired_instances: Annotated[int, Field(ge=0)] = 1
    min_size: Annotated[int, Field(ge=0)] = 1
    max_size: Annotated[int, Field(ge=0)] = 1

    @pydantic.model_validator(mode="after")
    def _ranges(self) -> AutoScalingGroup:
        if self.min_size > self.max_size:
            raise ValueError(f"min_size {self.min_size} is greater than max_size {self.max_size}")
        if not self.min_size <= self.desired_instances <= self.max_size:
            raise ValueError(f"desired_instances {self.desired_instances} is outside min_size..max_size "
                             f"({self.min_size}..{self.max_size})")
        return self


class Ec2Instances(Strict):
    instance_profile_arn: Annotated[str | None, Field(pattern=ARN)] = None
    autoscaling: bool = True
    ami: Annotated[str | None, Field(pattern=AMI)] = None
    user_data: str | None = None
    efs_mounts: list[EfsMount] = []
    ebs_mounts: list[EbsMount] = []
    auto_scaling_groups: list[AutoScalingGroup] = []
    spot_fleets: list[SpotFleet] = []

    @pydantic.model_validator(mode="after")
    def _some_compute(self) -> Ec2Instances:
        if not self.auto_scaling_groups and not self.spot_fleets:
            raise ValueError("give at least one of auto_scaling_groups or spot_fleets")
        names = [g.name for g in self.auto_scaling_groups] + [f.name for f in self.spot_fleets]
        if len(names) != len(set(names)):
            raise ValueError("auto_scaling_groups and spot_fleets need distinct names")
        return self


class Infra(Strict):
    cluster: ClusterSpec
    ec2_instances: Ec2Instances
    environments: list[Any] = []


class InfraError(UserError):
    pass


def _lines(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Line (1-based) of every key and item in the document, by its path."""
    found = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            found[(*path, key.value)] = key.start_mark.line + 1
            found.update({k: v for k, v in _lines(value, (*path, key.value)).items() if k != (*path, key.value)})
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found.update(_lines(item, (*path, index)))
    return found


def parse_infra(source: str, text: str) -> Infra:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InfraError(f"{source}: not valid YAML: {error}") from error
    if not isinstance(data, dict) or node is None:
        raise InfraError(f"{source}: expected a mapping with `cluster` and `ec2_instances`")
    lines = _lines(node)
    try:
        return Infra.model_validate(data)
    except pydantic.ValidationError as error:
        problems = []
        for problem in error.errors():
            loc = tuple(problem["loc"])
            line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
            where = ".".join(str(p) for p in loc) or "(document)"
            got = problem.get("input")
            shown = "" if isinstance(got, dict | list) or problem["type"] == "missing" else f" (got {got!r})"
            message = problem["msg"].removeprefix("Value error, ")
            if problem["type"] == "string_pattern_mismatch":
                message = f"expected {EXPECTED.get(str((problem.get('ctx') or {}).get('pattern')), message)}"
            if problem["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(f"{source}:{line}: {where}: {message}{shown}")
        raise InfraError(f"{source}: {len(problems)} problem(s)\n" + "\n".join(problems)) from error


def load_infra(path: str | None = None) -> tuple[str, Infra]:
    """infra.yml from the argument, else $VALUES_FILE, else ./infra.yml (as the seed does)."""
    chosen = path or os.environ.get("VALUES_FILE") or DEFAULT_VALUES_FILE
    try:
        text = Path(chosen).read_text()
    except OSError as error:
        raise InfraError(f"{chosen}: {error.strerror}") from error
    return chosen, parse_infra(chosen, text)

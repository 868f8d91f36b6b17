"""infra.yml, as ecs-cluster-deployer documents it (its tables are the contract) and as its real
users wrote it (the keys its code and schema read beyond the README), validated with every problem
reported at once, each with the file, line and key, and what was expected.

The file is read defensively: at most MAX_BYTES, UTF-8 text only, no YAML aliases (a few hundred
bytes of nested aliases expand to gigabytes), at most MAX_DEPTH levels of nesting, no duplicate
keys (PyYAML keeps the last one silently). Files infra.yml names (`user_data`,
`user_data_append`) resolve inside infra.yml's folder unless the caller allows more."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr

from ..errors import UserError
from . import ALLOW_OUTSIDE_ENV

log = logging.getLogger(__name__)

NAME = r"^[A-Za-z][A-Za-z0-9-]{0,39}$"
LOGICAL = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\d[a-z0-9-]*\.(nano|micro|small|medium|large|metal|\d{0,2}xlarge|metal-\d+xl)$"
DEFAULT_VALUES_FILE = "infra.yml"
ORIGINAL_KIND = "aws-ecs-cluster-deployer"
# Security group ids as EC2 writes them (8 or 17 hex digits): the original never read
# security_group_ingress, so a placeholder such as its README's sg-dab3aca went unnoticed.
VPC, SUBNET, GROUP = r"^vpc-[0-9a-f]+$", r"^subnet-[0-9a-f]+$", r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$"
ZONE, EFS, PATH, DEVICE = r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$", r"^fs-[0-9a-f]+$", r"^/[^\s]*$", r"^/dev/[a-z0-9]+$"
MINUTES, ARN, AMI = r"^\d+m$", r"^arn:aws[a-z-]*:iam::", r"^ami-[0-9a-f]+$"
# What each pattern means, for error messages a user can act on.
EXPECTED = {
    NAME: "a name of letters, digits and hyphens starting with a letter (at most 40)",
    LOGICAL: "a name of letters, digits, '-' and '_' (at most 64)",
    INSTANCE_TYPE: "an EC2 instance type such as t3.medium or m5.2xlarge",
    VPC: "a VPC id such as vpc-0abc1234", SUBNET: "a subnet id such as subnet-0abc1234",
    GROUP: "a security group id: sg- and 8 or 17 hex digits, such as sg-0abc1234",
    ZONE: "an availability zone such as us-west-2a",
    EFS: "an EFS file system id such as fs-0abc1234", PATH: "an absolute path such as /efs",
    DEVICE: "a device name such as /dev/xvdb", MINUTES: "minutes written like 3m",
    ARN: "an IAM instance profile ARN (arn:aws:iam::ACCOUNT:instance-profile/NAME)",
    AMI: "an AMI id such as ami-0abc1234",
}
# Real infra.yml files are about 1 KB and 5 levels deep: these limits only stop abuse.
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
# Keys the original read whose meaning ecsfleet does not keep as it was: each warns when used.
DEVIATIONS = {
    ("cluster", "ami"): "read as ec2_instances.ami (ecs-cluster-deployer's schema accepted it, but its code "
                        "took the AMI from its pipeline's $AMI)",
    ("environments",): "one stage of `ecsfleet fleet pipeline` each, in order, rolling out its own values file "
                       "(default infra.<name>.yml beside infra.yml; ecs-cluster-deployer's stages all deployed "
                       "the same VALUES_FILE)",
    ("min_instances",): "read as min_size (ecs-cluster-deployer only wrote it into an ASGMinSize parameter "
                        "that its group never used)",
    ("max_instances",): "read as max_size (ecs-cluster-deployer only wrote it into an ASGMaxSize parameter "
                        "that its group never used)",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _text(value: Any) -> Any:
    """YAML reads `ecs_deployer_version: 1.0` as a number: keep what the user wrote, as text."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class ClusterSpec(Strict):
    name: Annotated[str, Field(pattern=NAME, description="the name of your cluster")]
    vpc: Annotated[str | None, Field(pattern=VPC)] = None
    ami: Annotated[str | None, Field(pattern=AMI)] = None
    availability_zones: list[Annotated[str, Field(pattern=ZONE)]] = []
    subnets: list[Annotated[str, Field(pattern=SUBNET)]] = []
    security_groups: list[Annotated[str, Field(pattern=GROUP)]] = []
    security_group_ingress: list[Annotated[str, Field(pattern=GROUP)]] = []
    keypair: str | None = None
    # ecsfleet's: the original's badge security groups (ALB, DB, Cache, Aux) and their exports.
    badge_security_groups: bool = True


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
    price: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    weight: Annotated[int, Field(ge=1)] = 1


def _whole(value: Any) -> int | None:
    """A raw YAML value as pydantic would read an int, or None: cross-field rules then run even
    when another field of the same item is wrong."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def spot_fleet_rules(raw: dict[str, Any]) -> list[str]:
    """Cross-field rules of a spot fleet, over raw values (fields that are missing or wrong are skipped)."""
    low, high = _whole(raw.get("min_weight")), _whole(raw.get("max_weight"))
    out, into = _whole(raw.get("task_threshold_out", 3)), _whole(raw.get("task_threshold_in", 10))
    problems = []
    if low is not None and high is not None and low > high:
        problems.append(f"min_weight {low} is greater than max_weight {high}")
    if out is not None and into is not None and out >= into:
        problems.append(f"task_threshold_out {out} must be below task_threshold_in {into}")
    return problems


def group_rules(raw: dict[str, Any]) -> list[str]:
    """Cross-field rules of an Auto Scaling group, over raw values (after min/max_instances are read)."""
    low, high = _whole(raw.get("min_size", 1)), _whole(raw.get("max_size", 1))
    desired = _whole(raw.get("desired_instances", 1))
    problems = []
    if low is not None and high is not None and low > high:
        problems.append(f"min_size {low} is greater than max_size {high}")
    elif None not in (low, high, desired) and not low <= desired <= high:  # type: ignore[operator]
        problems.append(f"desired_instances {desired} is outside min_size..max_size ({low}..{high})")
    return problems


def _raise_all(problems: list[str]) -> None:
    if problems:
        raise ValueError("; ".join(problems))


# How AWS chooses the pools (instance type and zone) a spot fleet launches from, in AWS's
# spellings: diversified (the seed's: every pool in turn), lowestPrice, capacityOptimized,
# priceCapacityOptimized (AWS's recommendation: the cheapest of the pools least likely to be
# interrupted).
AllocationStrategy = Literal["diversified", "lowestPrice", "capacityOptimized", "priceCapacityOptimized"]
# The strategies that launch from the cheapest pool they may (capacityOptimized picks by spare
# capacity, whatever the price).
LOWEST_PRICE_STRATEGIES = ("lowestPrice", "priceCapacityOptimized")


class SpotFleet(Strict):
    name: Annotated[str, Field(pattern=LOGICAL)]
    timeout: Annotated[str, Field(pattern=MINUTES)] = "2m"
    desired_weight: Annotated[int, Field(ge=0)] = 1
    min_weight: Annotated[int, Field(ge=0)]
    max_weight: Annotated[int, Field(ge=0)]
    task_threshold_out: Annotated[int, Field(ge=0)] = 3
    task_threshold_in: Annotated[int, Field(ge=0)] = 10
    bids: Annotated[list[Bid], Field(min_length=1)]
    allocation_strategy: AllocationStrategy = "diversified"

    @pydantic.model_validator(mode="after")
    def _ranges(self) -> SpotFleet:
        _raise_all(spot_fleet_rules(self.model_dump()))
        return self

    @property
    def timeout_seconds(self) -> int:
        return int(self.timeout.removesuffix("m")) * 60


def _read_instances_keys(raw: Any) -> Any:
    """min_instances / max_instances (what the original's parameters were named) as min_size / max_size."""
    if not isinstance(raw, dict):
        return raw
    data = dict(raw)
    for old, new in (("min_instances", "min_size"), ("max_instances", "max_size")):
        if old in data:
            value = data.pop(old)
            if new in data and data[new] != value:
                raise ValueError(f"{old} {value!r} and {new} {data[new]!r} disagree: give only {new}")
            data[new] = value
    return data


class AutoScalingGroup(Strict):
    name: Annotated[str, Field(pattern=LOGICAL)]
    instance_type: Annotated[str, Field(pattern=INSTANCE_TYPE)]
    desired_instances: Annotated[int, Field(ge=0)] = 1
    min_size: Annotated[int, Field(ge=0)] = 1
    max_size: Annotated[int, Field(ge=0)] = 1

    _instances_keys = pydantic.model_validator(mode="before")(_read_instances_keys)

    @pydantic.model_validator(mode="after")
    def _ranges(self) -> AutoScalingGroup:
        _raise_all(group_rules(self.model_dump()))
        return self


# ---- scaling (ec2_instances.scaling) --------------------------------------------------------------
SCALING_MODES = ("placement", "thresholds")
HEADROOM = r"^\d+(\.\d+)?%$"
EXPECTED[HEADROOM] = "a number of tasks such as 1, or a share of the capacity such as 10%"


def _scaling_shorthand(raw: Any) -> Any:
    """`scaling: thresholds` is `scaling: {mode: thresholds}`."""
    return {"mode": raw} if isinstance(raw, str) else raw


class Scaling(Strict):
    """How active fleets are scaled (docs/fleet.md, "Scaling"). `mode` None: decided by the file
    (`Infra.scaling_mode`)."""

    mode: Literal["placement", "thresholds"] | None = None
    # Free room kept beyond what is pending: copies of the largest service task, or a share of the
    # active fleets' capacity ("10%").
    headroom: Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=HEADROOM)] = 1
    # Anti-flap window: no consolidation this long after a scale-out, and a consolidation keeps
    # room for the peak (and the rise) of the services' desired counts over this long.
    consolidate_after: Annotated[str, Field(pattern=MINUTES)] = "10m"
    # $/hour per instance type; overrides ecsfleet's table (0 for reserved instances already paid for).
    on_demand_prices: dict[Annotated[str, Field(pattern=INSTANCE_TYPE)],
                           Annotated[float, Field(ge=0, allow_inf_nan=False)]] = {}

    _shorthand = pydantic.model_validator(mode="before")(_scaling_shorthand)

    @property
    def window_seconds(self) -> int:
        return int(self.consolidate_after.removesuffix("m")) * 60


# ---- AMIs stay current (ec2_instances.ami_*, fleet/ami_refresh.py) -------------------------------
# An SSM parameter name, an image name pattern, an owner of images, and a maintenance window as RDS
# writes one (UTC): `sun:02:00-sun:05:00`, or a daily `02:00-05:00`.
SSM_NAME, IMAGE_NAME = r"^/?[A-Za-z0-9_.\-/]{1,2047}$", r"^[A-Za-z0-9()\[\]./\-'@_* ?]{1,128}$"
IMAGE_OWNER = r"^(self|amazon|aws-marketplace|\d{12})$"
_DAY, _CLOCK = r"(mon|tue|wed|thu|fri|sat|sun)", r"([01]\d|2[0-3]):[0-5]\d"
WINDOW = rf"^({_DAY}:{_CLOCK}-{_DAY}:{_CLOCK}|{_CLOCK}-{_CLOCK})$"
EXPECTED.update({
    SSM_NAME: "an SSM parameter name such as /aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
    IMAGE_NAME: "an AMI name pattern (letters, digits, ()[]./-'@_ and spaces; * and ? as wildcards)",
    IMAGE_OWNER: "self, amazon, aws-marketplace or a 12-digit account id",
    WINDOW: "a UTC window such as sun:02:00-sun:05:00 (weekly) or 02:00-05:00 (daily)",
})


class AmiNameFilter(Strict):
    """Follow the newest available image whose name matches (an EC2 Image Builder pipeline's output)."""

    name: Annotated[str, Field(pattern=IMAGE_NAME)]
    owners: Annotated[list[Annotated[str, Field(pattern=IMAGE_OWNER)]], Field(min_length=1)] = ["self"]


def _one_ami_source(nodes: Any) -> Any:
    given = [k for k in ("ami", "ami_parameter", "ami_name_filter") if getattr(nodes, k) is not None]
    if len(given) > 1:
        raise ValueError(f"give one AMI source, not {' and '.join(given)}")
    return nodes


class Ec2Instances(Strict):
    instance_profile_arn: Annotated[str | None, Field(pattern=ARN)] = None
    autoscaling: bool = True
    ami: Annotated[str | None, Field(pattern=AMI)] = None
    # AMIs stay current: where a new version's AMI is read from (one of ami, ami_parameter,
    # ami_name_filter; AWS's recommended ECS-optimized AMI without any), and what `fleet reconcile`
    # does when that source names another AMI than the active version runs: report, or roll it out.
    ami_parameter: Annotated[str | None, Field(pattern=SSM_NAME)] = None
    ami_name_filter: AmiNameFilter | None = None
    ami_refresh: Literal["report", "auto"] = "report"
    ami_refresh_window: Annotated[str | None, Field(pattern=WINDOW)] = None
    _ami_source = pydantic.model_validator(mode="after")(_one_ami_source)
    # The original's meaning: a Jinja2 template of the whole boot script, a path relative to infra.yml.
    user_data: Annotated[str | None, Field(min_length=1)] = None
    # ecsfleet's: a script run after the node has joined the cluster (ecsfleet's own boot script kept).
    user_data_append: Annotated[str | None, Field(min_length=1)] = None
    efs_mounts: list[EfsMount] = []
    ebs_mounts: list[EbsMount] = []
    auto_scaling_groups: list[AutoScalingGroup] = []
    spot_fleets: list[SpotFleet] = []
    scaling: Scaling = Scaling()

    @property
    def instance_types(self) -> frozenset[str]:
        """Every type the groups launch: the Auto Scaling groups' and the spot fleets' bids'."""
        return frozenset({g.instance_type for g in self.auto_scaling_groups}
                         | {b.instance_type for f in self.spot_fleets for b in f.bids})

    @pydantic.model_validator(mode="after")
    def _some_compute(self) -> Ec2Instances:
        if not self.auto_scaling_groups and not self.spot_fleets:
            raise ValueError("give at least one of auto_scaling_groups or spot_fleets")
        names = [g.name for g in self.auto_scaling_groups] + [f.name for f in self.spot_fleets]
        if len(names) != len(set(names)):
            raise ValueError("auto_scaling_groups and spot_fleets need distinct names")
        if self.user_data and self.user_data_append:
            raise ValueError("give user_data (the whole boot script, a Jinja2 template) or user_data_append "
                             "(a script run after ecsfleet's boot script), not both")
        return self


@dataclass(frozen=True)
class BootFiles:
    """The contents of the files infra.yml names: `user_data` (a Jinja2 template of the whole boot
    script) and `user_data_append` (a script run after ecsfleet's own)."""

    template: str | None = None
    append: str = ""


def _cluster_ami(raw: Any) -> Any:
    """cluster.ami (the original's schema) is ec2_instances.ami, unless the two disagree."""
    if not isinstance(raw, dict) or not isinstance(raw.get("cluster"), dict):
        return raw
    ami = raw["cluster"].get("ami")
    nodes = raw.get("ec2_instances")
    if ami is None or not isinstance(nodes, dict):
        return raw
    if nodes.get("ami") not in (None, ami):
        raise ValueError(f"cluster.ami {ami!r} and ec2_instances.ami {nodes['ami']!r} disagree: give one")
    return {**raw, "ec2_instances": {**nodes, "ami": ami}}


VALUES_FILE = r"^[^\s]+\.ya?ml$"
EXPECTED[VALUES_FILE] = "a .yml or .yaml file, relative to infra.yml's folder"


def _environment(raw: Any) -> Any:
    """The original's form, a name, is an environment with the default values file."""
    return {"name": raw} if isinstance(raw, str) else raw


class Environment(Strict):
    """One stage of the delivery pipeline (`fleet pipeline`, `fleet init`'s workflow)."""

    name: Annotated[str, Field(pattern=NAME)]
    # Relative to infra.yml's folder; default infra.<name>.yml.
    values_file: Annotated[str | None, Field(pattern=VALUES_FILE)] = None
    approval: bool = False  # a manual approval before this environment's rollout

    @property
    def values_path(self) -> str:
        return self.values_file or f"infra.{self.name}.yml"


class Infra(Strict):
    # The original's files start with `kind: aws-ecs-cluster-deployer`; nothing read it.
    kind: Literal["aws-ecs-cluster-deployer"] | None = None
    # The deployer release a file was written for: the nodes' ECS attribute `ecs_deploy_version`.
    ecs_deployer_version: Annotated[str | None, BeforeValidator(_text)] = None
    cluster: ClusterSpec
    ec2_instances: Ec2Instances
    # The original's CodePipeline stages, one per name; ecsfleet's also {name, values_file, approval}.
    environments: list[Annotated[Environment, BeforeValidator(_environment)]] = []
    _boot: BootFiles = PrivateAttr(default_factory=BootFiles)
    _warnings: tuple[str, ...] = PrivateAttr(default=())

    _ami = pydantic.model_validator(mode="before")(_cluster_ami)

    @property
    def boot(self) -> BootFiles:
        return self._boot

    @property
    def warnings(self) -> tuple[str, ...]:
        """Keys used whose meaning differs from the original's, one line each with file and line."""
        return self._warnings

    @property
    def scaling_mode(self) -> Literal["placement", "thresholds"]:
        """`scaling.mode` when given; else `thresholds` for a seed file (`kind` written: it keeps
        the meaning it had) and for a file that sets a spot fleet's task_threshold_out/in (its
        author chose the seed's band), `placement` otherwise."""
        seed = self.kind is not None or bool(_thresholds_set(self))
        return self.ec2_instances.scaling.mode or ("thresholds" if seed else "placement")

    def with_boot(self, boot: BootFiles) -> Infra:
        copy = self.model_copy()
        copy._boot = boot
        return copy


class InfraError(UserError):
    pass


class _Refused(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases and nesting deeper than MAX_DEPTH while composing
    (before anything is expanded or recursed into)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _Refused(event.start_mark.line + 1, "YAML aliases (*name) are not accepted in infra.yml: "
                                                      "write the value out")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(self.peek_event().start_mark.line + 1,  # type: ignore[no-untyped-call]
                               f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _key(node: yaml.Node) -> Any:
    return node.value if isinstance(node, yaml.ScalarNode) else node.start_mark.line


def _duplicates(node: yaml.Node, path: tuple[Any, ...] = ()) -> list[tuple[int, str]]:
    """Every key written twice in one mapping: (line, message)."""
    found: list[tuple[int, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            name, line = _key(key), key.start_mark.line + 1
            if name in seen:
                where = ".".join(str(p) for p in (*path, name))
                found.append((line, f"{where}: duplicate key (first at line {seen[name]}); YAML would keep only "
                                    f"the last one"))
            else:
                seen[name] = line
            found += _duplicates(value, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicates(item, (*path, index))
    return found


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


def decode(source: str, raw: bytes | str) -> str:
    """infra.yml's bytes as text, or a clear error: too large, not UTF-8, binary."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode(errors="replace"))
    if size > MAX_BYTES:
        raise InfraError(f"{source}: {size} bytes, more than the {MAX_BYTES} an infra.yml may have")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InfraError(f"{source}: not a text file (byte {error.start} is not UTF-8)") from error
    if "\x00" in raw:
        raise InfraError(f"{source}: not a text file (it holds NUL bytes at offset {raw.index(chr(0))})")
    return raw


def _compose(source: str, text: str) -> yaml.Node | None:
    try:
        loader = _LimitedLoader(text)  # its reader refuses control characters already here
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except _Refused as refused:
        raise InfraError(f"{source}:{refused.line}: {refused}") from None
    except yaml.YAMLError as error:
        raise InfraError(f"{source}: not valid YAML: {error}") from error


def _construct(source: str, node: yaml.Node) -> Any:
    loader = _LimitedLoader("")
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as error:  # an unknown tag, a malformed timestamp
        raise InfraError(f"{source}: not valid YAML: {error}") from error
    finally:
        loader.dispose()


def _raw_rules(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """The cross-field rules of every item, on the raw document: pydantic skips an item's own
    rules when one of its fields is wrong, and validate must still report them."""
    nodes = data.get("ec2_instances")
    if not isinstance(nodes, dict):
        return []
    found: list[tuple[tuple[Any, ...], str]] = []
    for key, rules in (("spot_fleets", spot_fleet_rules), ("auto_scaling_groups", group_rules)):
        items = nodes.get(key)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                try:
                    values = _read_instances_keys(item)
                except ValueError:
                    continue
                found += [(("ec2_instances", key, index), message) for message in rules(values)]
    return found


def _deviations(data: dict[str, Any], lines: dict[tuple[Any, ...], int], source: str) -> list[str]:
    used: list[tuple[tuple[Any, ...], tuple[str, ...]]] = []
    if isinstance(data.get("cluster"), dict) and "ami" in data["cluster"]:
        used.append((("cluster", "ami"), ("cluster", "ami")))
    if data.get("environments"):
        used.append((("environments",), ("environments",)))
    nodes = data.get("ec2_instances")
    groups = nodes.get("auto_scaling_groups") if isinstance(nodes, dict) else None
    for index, group in enumerate(groups if isinstance(groups, list) else []):
        for key in ("min_instances", "max_instances"):
            if isinstance(group, dict) and key in group:
                used.append((("ec2_instances", "auto_scaling_groups", index, key), (key,)))
    return [f"{source}:{lines.get(path, 1)}: {'.'.join(str(p) for p in path)}: {DEVIATIONS[kind]}"
            for path, kind in used]


def _thresholds_set(infra: Infra) -> list[int]:
    """Indexes of the spot fleets whose file sets task_threshold_out or task_threshold_in."""
    return [i for i, f in enumerate(infra.ec2_instances.spot_fleets)
            if {"task_threshold_out", "task_threshold_in"} & f.model_fields_set]


def _scaling_warnings(infra: Infra, lines: dict[tuple[Any, ...], int], source: str) -> tuple[str, ...]:
    """Where the scaling mode is not written, a file of ecsfleet's own format that sets the
    seed's band keeps it: say so, and name the cheaper mode. A seed file (`kind` written) keeps
    the seed's scaler silently: it is brought over unchanged, and means what it meant."""
    if infra.ec2_instances.scaling.mode is not None or infra.kind is not None:
        return ()
    chosen = _thresholds_set(infra)
    if chosen:
        line = lines.get(("ec2_instances", "spot_fleets", chosen[0]), 1)
        return (f"{source}:{line}: ec2_instances.spot_fleets.{chosen[0]}: task_threshold_out/in set and no "
                "ec2_instances.scaling: scaling by thresholds, as ecs-cluster-deployer did; `scaling: placement` "
                "scales for what cannot be placed and consolidates (cheaper: docs/fleet.md, Scaling)",)
    return ()


def _describe(source: str, problem: Any, lines: dict[tuple[Any, ...], int]) -> tuple[int, str]:
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
    if problem["type"] == "literal_error" and loc == ("kind",):
        message, shown = f"expected {ORIGINAL_KIND!r}, the only kind of infra.yml", f" (got {got!r})"
    return line, f"{source}:{line}: {where}: {message}{shown}"


def _report(source: str, problems: list[tuple[int, str]]) -> InfraError:
    ordered = [text for _, text in sorted(set(problems), key=lambda p: p[0])]
    return InfraError(f"{source}: {len(ordered)} problem(s)\n" + "\n".join(ordered))


def parse_infra(source: str, text: str | bytes) -> Infra:
    """infra.yml text -> the validated model, or an InfraError listing every problem."""
    node = _compose(source, decode(source, text))
    if not isinstance(node, yaml.MappingNode):
        raise InfraError(f"{source}: expected a mapping with `cluster` and `ec2_instances`")
    lines = _lines(node)
    problems = [(line, f"{source}:{line}: {message}") for line, message in _duplicates(node)]
    data = _construct(source, node)
    try:
        infra = Infra.model_validate(data)
    except pydantic.ValidationError as error:
        problems += [_describe(source, p, lines) for p in error.errors()]
        for loc, message in _raw_rules(data):
            line = lines.get(loc, 1)
            text_ = f"{source}:{line}: {'.'.join(str(p) for p in loc)}: {message}"
            if not any(message in reported for _, reported in problems):
                problems.append((line, text_))
        raise _report(source, problems) from error
    if problems:
        raise _report(source, problems)
    infra._warnings = tuple(_deviations(data, lines, source)) + _scaling_warnings(infra, lines, source)
    return infra


def read_named_file(infra_path: str, key: str, name: str, allow_outside: bool = False) -> str:
    """A file infra.yml names, relative to infra.yml's folder (else, as the original read it,
    relative to the working directory), and inside that folder unless `allow_outside`."""
    folder = Path(infra_path).resolve().parent
    candidates = [folder / name, Path.cwd() / name] if not Path(name).is_absolute() else [Path(name)]
    chosen = next((c for c in candidates if c.exists()), candidates[0]).resolve()
    if not allow_outside and not chosen.is_relative_to(folder):
        raise InfraError(f"{infra_path}: ec2_instances.{key}: {name} is outside {folder}, the folder of "
                         f"infra.yml (pass --allow-outside-files to read it anyway)")
    try:
        with chosen.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise InfraError(f"{infra_path}: ec2_instances.{key}: cannot read {name}: {error.strerror}") from error
    if len(raw) > MAX_BYTES:
        raise InfraError(f"{infra_path}: ec2_instances.{key}: {name} is larger than {MAX_BYTES} bytes")
    return decode(f"{infra_path}: ec2_instances.{key}: {name}", raw)


def read_boot_files(infra_path: str, infra: Infra, allow_outside: bool = False) -> Infra:
    """The model with the contents of `user_data` / `user_data_append` attached."""
    nodes = infra.ec2_instances
    template = read_named_file(infra_path, "user_data", nodes.user_data, allow_outside) if nodes.user_data else None
    append = (read_named_file(infra_path, "user_data_append", nodes.user_data_append, allow_outside)
              if nodes.user_data_append else "")
    loaded = infra.with_boot(BootFiles(template, append))
    loaded._warnings = (*infra.warnings, *_boot_warnings(infra_path, template))
    return loaded


def _boot_warnings(infra_path: str, template: str | None) -> list[str]:
    """What a user_data template leaves out that ecsfleet relies on."""
    if template is None:
        return []
    wanted = {"ECS_CLUSTER": "the nodes never join the cluster",
              "asg_version": "the smoke test and the clean-up cannot find this version's instances "
                             "(set ECS_INSTANCE_ATTRIBUTES with asg_version, as the original's template did)"}
    return [f"{infra_path}: ec2_instances.user_data sets no {key}: {why}" for key, why in wanted.items()
            if key not in template]


def outside_allowed() -> bool:
    """$ECSFLEET_ALLOW_OUTSIDE_FILES: the environment's form of --allow-outside-files."""
    return os.environ.get(ALLOW_OUTSIDE_ENV, "").strip().lower() in ("1", "true", "yes")


def load_infra(path: str | None = None, allow_outside_files: bool | None = None) -> tuple[str, Infra]:
    """infra.yml from the argument, else $VALUES_FILE, else ./infra.yml (as the seed does), with
    the files it names read (inside its folder unless allowed: the argument, else
    $ECSFLEET_ALLOW_OUTSIDE_FILES); deviations from the original's meaning are logged as warnings."""
    if allow_outside_files is None:
        allow_outside_files = outside_allowed()
    chosen = path or os.environ.get("VALUES_FILE") or DEFAULT_VALUES_FILE
    try:
        with open(chosen, "rb") as handle:  # at most one byte over the limit: /dev/zero ends here too
            raw = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise InfraError(f"{chosen}: {error.strerror}") from error
    infra = read_boot_files(chosen, parse_infra(chosen, raw), allow_outside_files)
    for warning in infra.warnings:
        log.warning("%s", warning)
    return chosen, infra

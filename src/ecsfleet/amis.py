"""Where a fleet's AMI comes from, and the newest image that source names today.

The source is one of: a fixed AMI id (`ec2_instances.ami`), an SSM parameter holding an AMI id
(AWS's public recommended ECS-optimized AMI by default, or one an EC2 Image Builder
distribution writes), or the newest available image whose name matches a pattern
(`ec2_instances.ami_name_filter`, such as an Image Builder recipe's output names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .aws import Clients, error_code

RECOMMENDED_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"


def recommended_ami(clients: Clients, parameter: str = RECOMMENDED_AMI_PARAMETER) -> str | None:
    """The AMI id, or None where the parameter is missing or not readable."""
    try:
        value: str = clients("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    except Exception as error:
        if error_code(error) in ("ParameterNotFound", "AccessDeniedException"):
            return None
        raise
    return value


@dataclass(frozen=True)
class AmiSource:
    """`fixed`: the AMI id itself; `parameter`: an SSM parameter name; `name`: an image name
    pattern (`*` and `?` as DescribeImages reads them), looked up among `owners`' images."""

    kind: Literal["fixed", "parameter", "name"]
    value: str
    owners: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"ec2_instances.ami {self.value}"
        if self.kind == "parameter":
            return f"SSM parameter {self.value}"
        return f"the newest image named {self.value!r} owned by {', '.join(self.owners)}"


def ami_source(ami: str | None, parameter: str | None, name: str | None,
               owners: Sequence[str] = ("self",)) -> AmiSource:
    """The source infra.yml names (the schema allows one at most); AWS's recommended AMI without one."""
    if ami:
        return AmiSource("fixed", ami)
    if name:
        return AmiSource("name", name, tuple(owners))
    return AmiSource("parameter", parameter or RECOMMENDED_AMI_PARAMETER)


def newest_image(images: Sequence[dict[str, object]]) -> str | None:
    """The available image created last (ISO 8601 dates sort as text); ties go to the larger id,
    so two reads of the same images always agree."""
    ready = [i for i in images if i.get("State", "available") == "available"]
    if not ready:
        return None
    best = max(ready, key=lambda i: (str(i.get("CreationDate", "")), str(i.get("ImageId", ""))))
    return str(best["ImageId"])


def latest_ami(clients: Clients, source: AmiSource) -> str | None:
    """The AMI the source names now; None where the parameter is missing or unreadable, or no
    image matches the name."""
    if source.kind == "fixed":
        return source.value
    if source.kind == "parameter":
        return recommended_ami(clients, source.value)
    images = clients("ec2").describe_images(Owners=list(source.owners),
                                            Filters=[{"Name": "name", "Values": [source.value]},
                                                     {"Name": "state", "Values": ["available"]}])["Images"]
    return newest_image(images)

"""A newer AMI, published the way AWS (or an EC2 Image Builder pipeline) publishes one: an image
in EC2, created at the sandbox clock's time, and its id as the new version of an SSM parameter.

AWS's public parameters (/aws/service/...) cannot be written through PutParameter (AWS refuses
the `aws` prefix, and so does the sandbox), so this writes moto's state directly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..amis import RECOMMENDED_AMI_PARAMETER
from .ecs_model import ACCOUNT_ID

ECS_AMI_OWNER = "591542846629"  # the account AWS publishes the ECS-optimized AMIs from


def publish_image(region: str, now: float, name: str | None = None, parameter: str | None = RECOMMENDED_AMI_PARAMETER,
                  owner: str = "amazon") -> str:
    """Register a new available image (`owner` "amazon": AWS's, else the account's own) named
    `name`, and make it the value of `parameter` (None: no parameter). Returns its id."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.amis import Ami
    from moto.ec2.utils import random_ami_id
    from moto.ssm.models import Parameter, ssm_backends

    ec2 = ec2_backends[ACCOUNT_ID][region]
    ami_id = random_ami_id()
    created = dt.datetime.fromtimestamp(now, dt.UTC)
    amazon = owner == "amazon"
    ec2.amis[ami_id] = Ami(ec2, ami_id, name=name or f"al2023-ami-ecs-hvm-{created:%Y.%m.%d%H%M%S}-x86_64",
                           description="Amazon Linux 2023 ECS-optimized AMI (sandbox)",
                           owner_id=ECS_AMI_OWNER if amazon else ACCOUNT_ID, owner_alias="amazon" if amazon else None,
                           public=amazon, architecture="x86_64", virtualization_type="hvm", root_device_type="ebs",
                           root_device_name="/dev/xvda", creation_date=created, region_name=region)
    if parameter:
        ssm = ssm_backends[ACCOUNT_ID][region]
        ssm.get_parameter(parameter)  # moto loads AWS's public parameters on first read
        versions = ssm._parameters[parameter]
        make: Any = Parameter  # moto's model: abstract for CloudFormation's sake only
        versions.append(make(
            account_id=ACCOUNT_ID, name=parameter, value=ami_id, parameter_type="String", description=None,
            allowed_pattern=None, keyid=None, last_modified_date=created, version=len(versions) + 1,
            data_type="aws:ec2:image"))
    return ami_id

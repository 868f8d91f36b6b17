"""The recommended ECS-optimized AMI, as AWS publishes it in an SSM public parameter."""

from __future__ import annotations

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

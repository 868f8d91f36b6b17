"""SSM rules of the sandbox: each refused call answers AWS's error code and changes nothing."""

from __future__ import annotations

from ecsfleet.amis import RECOMMENDED_AMI_PARAMETER
from ecsfleet.sandbox import Sandbox
from rules_support import refused


def test_parameter_must_exist(sb: Sandbox) -> None:
    ssm = sb.client("ssm")
    error = refused(ssm.get_parameter, "ParameterNotFound", 400, Name="/ecsfleet/nope")
    assert error["Message"] == ""
    ssm.put_parameter(Name="/ecsfleet/ami", Value="ami-12c6146b", Type="String")
    assert ssm.get_parameter(Name="/ecsfleet/ami")["Parameter"]["Value"] == "ami-12c6146b"
    assert ssm.get_parameter(Name=RECOMMENDED_AMI_PARAMETER)["Parameter"]["Value"].startswith("ami-")


def test_parameter_name_not_reserved(sb: Sandbox) -> None:
    ssm = sb.client("ssm")
    for name in ("/aws/mine", "ssm-setting", "AWSthing"):
        refused(ssm.put_parameter, "ValidationException", 400, Name=name, Value="v", Type="String")
    assert ssm.describe_parameters()["Parameters"] == []
    ssm.put_parameter(Name="/ecsfleet/aws", Value="v", Type="String")


def test_parameter_hierarchy_at_most_15_levels(sb: Sandbox) -> None:
    ssm = sb.client("ssm")
    refused(ssm.put_parameter, "HierarchyLevelLimitExceededException", 400,
            Name="/" + "/".join(f"l{i}" for i in range(16)), Value="v", Type="String")
    ssm.put_parameter(Name="/" + "/".join(f"l{i}" for i in range(15)), Value="v", Type="String")

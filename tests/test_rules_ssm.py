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


def test_standard_parameter_value_at_most_4096_characters(sb: Sandbox) -> None:
    ssm = sb.client("ssm")
    error = refused(ssm.put_parameter, "ValidationException", 400, Name="/ecsfleet/big", Value="x" * 4097,
                    Type="String", Tier="Standard")
    assert error["Message"].startswith("Standard tier parameters support a maximum parameter value of 4096")
    refused(ssm.put_parameter, "ValidationException", 400, Name="/ecsfleet/big", Value="x" * 4097, Type="String")
    assert ssm.describe_parameters()["Parameters"] == []
    ssm.put_parameter(Name="/ecsfleet/big", Value="x" * 4096, Type="String", Tier="Standard")
    ssm.put_parameter(Name="/ecsfleet/bigger", Value="x" * 4097, Type="String", Tier="Advanced")


def test_parameter_overwritten_only_with_overwrite(sb: Sandbox) -> None:
    ssm = sb.client("ssm")
    ssm.put_parameter(Name="/ecsfleet/p", Value="one", Type="String")
    refused(ssm.put_parameter, "ParameterAlreadyExists", 400, Name="/ecsfleet/p", Value="two", Type="String")
    refused(ssm.put_parameter, "ParameterAlreadyExists", 400, Name="/ecsfleet/p", Value="two", Type="String",
            Overwrite=False)
    assert ssm.get_parameter(Name="/ecsfleet/p")["Parameter"]["Value"] == "one"
    assert ssm.put_parameter(Name="/ecsfleet/p", Value="two", Type="String", Overwrite=True)["Version"] == 2
    assert ssm.get_parameter(Name="/ecsfleet/p")["Parameter"]["Value"] == "two"


def test_parameter_tags_only_on_create(sb: Sandbox) -> None:
    ssm = sb.client("ssm")
    tags = [{"Key": "ecsfleet:cluster", "Value": "shop"}]
    refused(ssm.put_parameter, "ValidationException", 400, Name="/ecsfleet/t", Value="v", Type="String",
            Overwrite=True, Tags=tags)
    assert ssm.describe_parameters()["Parameters"] == []
    ssm.put_parameter(Name="/ecsfleet/t", Value="v", Type="String", Tags=tags)
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/ecsfleet/t")["TagList"] == tags


def test_tagged_parameter_must_exist(sb: Sandbox) -> None:
    ssm = sb.client("ssm")
    error = refused(ssm.list_tags_for_resource, "InvalidResourceId", 400, ResourceType="Parameter",
                    ResourceId="/ecsfleet/none")
    assert error["Message"] == ""
    ssm.put_parameter(Name="/ecsfleet/none", Value="v", Type="String")
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/ecsfleet/none")["TagList"] == []
    ssm.delete_parameter(Name="/ecsfleet/none")
    refused(ssm.list_tags_for_resource, "InvalidResourceId", 400, ResourceType="Parameter",
            ResourceId="/ecsfleet/none")
    refused(ssm.add_tags_to_resource, "InvalidResourceId", 400, ResourceType="Parameter",
            ResourceId="/ecsfleet/none", Tags=[{"Key": "ecsfleet:cluster", "Value": "shop"}])

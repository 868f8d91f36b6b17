"""CloudFormation rules of the sandbox: each refused call answers AWS's error code, and changes nothing;
and the stack life cycle moto got wrong (a failed create) ends the way AWS reports it."""

from __future__ import annotations

import json
from typing import Any

from ecsfleet.sandbox import Sandbox
from rules_support import refused

TOPIC = {"Topic": {"Type": "AWS::SNS::Topic"}}


def body(resources: dict[str, Any] | None = None, parameters: dict[str, Any] | None = None,
         outputs: dict[str, Any] | None = None) -> str:
    template: dict[str, Any] = {"Resources": resources if resources is not None else TOPIC}
    if parameters is not None:
        template["Parameters"] = parameters
    if outputs is not None:
        template["Outputs"] = outputs
    return json.dumps(template)


def values(**given: str) -> list[dict[str, Any]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()]


def status(sb: Sandbox, name: str) -> str:
    found: str = sb.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    return found


def stack_names(sb: Sandbox) -> list[str]:
    return sorted(s["StackName"] for s in sb.client("cloudformation").describe_stacks()["Stacks"])


def test_stack_name_pattern_and_length(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    error = refused(cfn.create_stack, "ValidationError", StackName="shop_cluster", TemplateBody=body())
    assert error["Message"] == ("1 validation error detected: Value 'shop_cluster' at 'stackName' failed to satisfy "
                                "constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*")
    refused(cfn.create_stack, "ValidationError", StackName="1shop", TemplateBody=body())
    error = refused(cfn.create_stack, "ValidationError", StackName="s" * 129, TemplateBody=body())
    assert "Member must have length less than or equal to 128" in error["Message"]
    assert stack_names(sb) == []
    cfn.create_stack(StackName="s" * 128, TemplateBody=body())
    cfn.create_stack(StackName="shop-asg-v1", TemplateBody=body())


def test_template_given_once(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    error = refused(cfn.create_stack, "ValidationError", StackName="t")
    assert error["Message"] == "Either Template URL or Template Body must be specified."
    cfn.create_stack(StackName="t", TemplateBody=body())
    error = refused(cfn.update_stack, "ValidationError", StackName="t", TemplateBody=body(), UsePreviousTemplate=True)
    assert error["Message"] == "You cannot specify both usePreviousTemplate and Template Body/Template URL."
    refused(cfn.update_stack, "ValidationError", StackName="t")
    assert status(sb, "t") == "CREATE_COMPLETE"


def test_template_body_size(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    big = json.dumps({"Description": "x" * 51_200, "Resources": TOPIC})
    error = refused(cfn.create_stack, "ValidationError", StackName="big", TemplateBody=big)
    assert error["Message"].endswith("at 'templateBody' failed to satisfy constraint: Member must have length less "
                                     "than or equal to 51200")
    assert stack_names(sb) == []
    cfn.create_stack(StackName="small", TemplateBody=json.dumps({"Description": "x" * 40_000, "Resources": TOPIC}))
    refused(cfn.update_stack, "ValidationError", StackName="small", TemplateBody=big)


def test_template_well_formed(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody='{"Resources": {')
    assert error["Message"].startswith("Template format error: JSON not well-formed. (line 1,")
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody="Resources: [unclosed")
    assert error["Message"].startswith("Template format error: YAML not well-formed.")
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody="just words")
    assert error["Message"] == "Template format error: unsupported structure."
    assert stack_names(sb) == []
    # YAML with CloudFormation's short forms is a template.
    cfn.create_stack(StackName="t", TemplateBody="Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
                                                 "Outputs:\n  Arn:\n    Value: !Ref Topic\n")
    assert status(sb, "t") == "CREATE_COMPLETE"


def test_template_declares_resources(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=json.dumps({"Resources": {}}))
    assert error["Message"] == "Template format error: At least one Resources member must be defined."
    refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=json.dumps({"Outputs": {}}))
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body({"Topic": {}}))
    assert error["Message"] == "Template format error: Every Resources object must contain a Type member."
    assert stack_names(sb) == []


def test_template_resource_limit(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    many = {f"Topic{i}": {"Type": "AWS::SNS::Topic"} for i in range(501)}
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body(many))
    assert error["Message"] == "Template format error: Number of resources, 501, is greater than maximum allowed, 500"
    assert stack_names(sb) == []


def test_template_parameter_limit(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    many = {f"P{i}": {"Type": "String", "Default": "x"} for i in range(201)}
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body(parameters=many))
    assert error["Message"] == "Template format error: Parameter count 201 is greater than max allowed 200"
    cfn.create_stack(StackName="t", TemplateBody=body(parameters=dict(list(many.items())[:200])))


def test_template_references_resolve(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    queue = {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "QueueNam"}}}}
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body(queue))
    assert error["Message"] == ("Template format error: Unresolved resource dependencies [QueueNam] in the Resources "
                                "block of the template")
    refused(cfn.create_stack, "ValidationError", StackName="t",
            TemplateBody=body({"Topic": {"Type": "AWS::SNS::Topic", "DependsOn": "Nothing"}}))
    error = refused(cfn.create_stack, "ValidationError", StackName="t",
                    TemplateBody=body(outputs={"Arn": {"Value": {"Fn::GetAtt": ["Topik", "TopicArn"]}}}))
    assert "[Topik] in the Outputs block" in error["Message"]
    assert stack_names(sb) == []
    # Parameters, resources, pseudo parameters and Fn::Sub's own variables all resolve.
    fine = {"Queue": {"Type": "AWS::SNS::Topic", "DependsOn": ["Topic"], "Properties": {"DisplayName": {"Fn::Sub": [
        "${Name}-${AWS::Region}-${Suffix}-${!Literal}", {"Suffix": "q"}]}}}, **TOPIC}
    cfn.create_stack(StackName="t", TemplateBody=body(fine, {"Name": {"Type": "String"}}), Parameters=values(Name="n"))
    assert status(sb, "t") == "CREATE_COMPLETE"


def test_stack_name_unique(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    first = cfn.create_stack(StackName="shop-cluster", TemplateBody=body())["StackId"]
    error = refused(cfn.create_stack, "AlreadyExistsException", StackName="shop-cluster", TemplateBody=body())
    assert error["Message"] == "Stack [shop-cluster] already exists"
    assert cfn.describe_stacks(StackName="shop-cluster")["Stacks"][0]["StackId"] == first
    cfn.delete_stack(StackName="shop-cluster")
    cfn.create_stack(StackName="shop-cluster", TemplateBody=body())  # a deleted stack's name is free


def test_stack_exists(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    error = refused(cfn.describe_stacks, "ValidationError", StackName="missing")
    assert error["Message"] == "Stack with id missing does not exist"
    refused(cfn.update_stack, "ValidationError", StackName="missing", TemplateBody=body())
    refused(cfn.describe_stack_events, "ValidationError", StackName="missing")
    refused(cfn.list_stack_resources, "ValidationError", StackName="missing")
    refused(cfn.get_template, "ValidationError", StackName="missing")
    stack_id = cfn.create_stack(StackName="gone", TemplateBody=body())["StackId"]
    cfn.delete_stack(StackName="gone")
    refused(cfn.describe_stacks, "ValidationError", StackName="gone")
    # A deleted stack is still described by its id.
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def test_stack_updatable_state(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    sb.fail_stack("shop-asg-v1", "Topic", "Resource creation cancelled")
    stack_id = cfn.create_stack(StackName="shop-asg-v1", TemplateBody=body())["StackId"]
    assert status(sb, "shop-asg-v1") == "ROLLBACK_COMPLETE"
    error = refused(cfn.update_stack, "ValidationError", StackName="shop-asg-v1",
                    TemplateBody=body({"Queue": {"Type": "AWS::SQS::Queue"}}))
    assert error["Message"] == f"Stack:{stack_id} is in ROLLBACK_COMPLETE state and can not be updated."
    assert status(sb, "shop-asg-v1") == "ROLLBACK_COMPLETE"


def test_parameters_declared(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body(),
                    Parameters=values(Status="active", Extra="x"))
    assert error["Message"] == "Parameters: [Status, Extra] do not exist in the template"
    assert stack_names(sb) == []
    cfn.create_stack(StackName="t", TemplateBody=body(parameters={"Status": {"Type": "String"}}),
                     Parameters=values(Status="active"))
    refused(cfn.update_stack, "ValidationError", StackName="t", TemplateBody=body(),
            Parameters=values(Status="inactive"))


def test_use_previous_value_needs_a_previous_value(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    cfn.create_stack(StackName="t", TemplateBody=body(parameters={"Status": {"Type": "String"}}),
                     Parameters=values(Status="active"))
    grown = body({"Queue": {"Type": "AWS::SQS::Queue"}, **TOPIC},
                 {"Status": {"Type": "String"}, "Size": {"Type": "String"}})
    error = refused(cfn.update_stack, "ValidationError", StackName="t", TemplateBody=grown,
                    Parameters=[{"ParameterKey": "Status", "UsePreviousValue": True},
                                {"ParameterKey": "Size", "UsePreviousValue": True}])
    assert error["Message"] == ("Cannot specify usePreviousValue as true for a parameter key not in the previous "
                                "template")
    cfn.update_stack(StackName="t", TemplateBody=grown, Parameters=[
        {"ParameterKey": "Status", "UsePreviousValue": True}, {"ParameterKey": "Size", "ParameterValue": "2"}])
    params = {p["ParameterKey"]: p["ParameterValue"] for p in cfn.describe_stacks(StackName="t")["Stacks"][0][
        "Parameters"]}
    assert params == {"Status": "active", "Size": "2"}


def test_use_previous_value_without_a_value(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    cfn.create_stack(StackName="t", TemplateBody=body(parameters={"Status": {"Type": "String"}}),
                     Parameters=values(Status="active"))
    error = refused(cfn.update_stack, "ValidationError", StackName="t", UsePreviousTemplate=True,
                    Parameters=[{"ParameterKey": "Status", "ParameterValue": "inactive", "UsePreviousValue": True}])
    assert error["Message"] == ("Invalid input for parameter key Status. Cannot specify usePreviousValue as true and "
                                "non empty value for a parameter")
    assert status(sb, "t") == "CREATE_COMPLETE"


def test_parameters_have_values(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    declared = {"Status": {"Type": "String", "Default": "inactive"}, "ImageId": {"Type": "String"},
                "Subnets": {"Type": "CommaDelimitedList"}}
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body(parameters=declared))
    assert error["Message"] == "Parameters: [ImageId, Subnets] must have values"
    assert stack_names(sb) == []
    cfn.create_stack(StackName="t", TemplateBody=body(parameters=declared),
                     Parameters=values(ImageId="ami-1", Subnets="subnet-1,subnet-2"))
    # On update a parameter left out takes its Default, not its previous value.
    error = refused(cfn.update_stack, "ValidationError", StackName="t", UsePreviousTemplate=True,
                    Parameters=values(Status="active", ImageId="ami-2"))
    assert error["Message"] == "Parameters: [Subnets] must have values"
    cfn.update_stack(StackName="t", UsePreviousTemplate=True, Parameters=[
        {"ParameterKey": "Status", "ParameterValue": "active"}, {"ParameterKey": "ImageId", "UsePreviousValue": True},
        {"ParameterKey": "Subnets", "UsePreviousValue": True}])
    assert status(sb, "t") == "UPDATE_COMPLETE"


def test_parameter_number_type(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    declared = {"Size": {"Type": "Number"}, "Ports": {"Type": "List<Number>", "Default": "80,443"}}
    # moto crashed on this one (a 500 from int("abc")); AWS refuses it.
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body(parameters=declared),
                    Parameters=values(Size="abc"))
    assert error["Message"] == "Parameter 'Size' must be a number."
    refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body(parameters=declared),
            Parameters=values(Size="3", Ports="80,http"))
    assert stack_names(sb) == []
    cfn.create_stack(StackName="t", TemplateBody=body(parameters=declared), Parameters=values(Size="2.5"))


def test_parameter_allowed_values(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    declared = {"Status": {"Type": "String", "AllowedValues": ["active", "inactive"], "Default": "inactive"}}
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body(parameters=declared),
                    Parameters=values(Status="Active"))
    assert error["Message"] == "Parameter 'Status' must be one of AllowedValues"
    cfn.create_stack(StackName="t", TemplateBody=body(parameters=declared), Parameters=values(Status="active"))
    refused(cfn.update_stack, "ValidationError", StackName="t", UsePreviousTemplate=True,
            Parameters=values(Status="draining"))
    params = cfn.describe_stacks(StackName="t")["Stacks"][0]["Parameters"]
    assert params == [{"ParameterKey": "Status", "ParameterValue": "active"}]


def test_parameter_allowed_pattern(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    declared = {"Version": {"Type": "String", "AllowedPattern": "v[0-9]+"}}
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body(parameters=declared),
                    Parameters=values(Version="v1-beta"))  # the pattern matches the whole value
    assert error["Message"] == "Parameter 'Version' must match pattern v[0-9]+"
    cfn.create_stack(StackName="t", TemplateBody=body(parameters=declared), Parameters=values(Version="v12"))


def test_parameter_length(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    declared = {"Name": {"Type": "String", "MinLength": "2", "MaxLength": 4}}
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body(parameters=declared),
                    Parameters=values(Name="a"))
    assert error["Message"] == "Parameter 'Name' must contain at least 2 characters"
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body(parameters=declared),
                    Parameters=values(Name="abcde"))
    assert error["Message"] == "Parameter 'Name' must contain at most 4 characters"
    cfn.create_stack(StackName="t", TemplateBody=body(parameters=declared), Parameters=values(Name="abcd"))


def test_parameter_value_range(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    declared = {"Size": {"Type": "Number", "MinValue": "1", "MaxValue": 10}}
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body(parameters=declared),
                    Parameters=values(Size="0"))
    assert error["Message"] == "Parameter 'Size' must be a number not less than 1"
    error = refused(cfn.create_stack, "ValidationError", StackName="t", TemplateBody=body(parameters=declared),
                    Parameters=values(Size="11"))
    assert error["Message"] == "Parameter 'Size' must be a number not greater than 10"
    cfn.create_stack(StackName="t", TemplateBody=body(parameters=declared), Parameters=values(Size="10"))


TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ROLE: dict[str, Any] = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}}


def test_iam_resources_need_capability_iam(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    error = refused(cfn.create_stack, "InsufficientCapabilitiesException", StackName="t",
                    TemplateBody=body({"Role": ROLE}))
    assert error["Message"] == "Requires capabilities : [CAPABILITY_IAM]"
    assert stack_names(sb) == []
    cfn.create_stack(StackName="t", TemplateBody=body({"Role": ROLE}), Capabilities=["CAPABILITY_IAM"])
    refused(cfn.update_stack, "InsufficientCapabilitiesException", StackName="t",
            TemplateBody=body({"Role": ROLE, **TOPIC}))


def test_named_iam_resources_need_capability_named_iam(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    named = {"Role": {**ROLE, "Properties": {**ROLE["Properties"], "RoleName": "shop-nodes"}}}
    for capabilities in ([], ["CAPABILITY_IAM"]):
        error = refused(cfn.create_stack, "InsufficientCapabilitiesException", StackName="t",
                        TemplateBody=body(named), Capabilities=capabilities)
        assert error["Message"] == "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    assert stack_names(sb) == []
    cfn.create_stack(StackName="t", TemplateBody=body(named), Capabilities=["CAPABILITY_NAMED_IAM"])


def test_update_changes_something(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    declared = {"Status": {"Type": "String", "Default": "inactive"}}
    cfn.create_stack(StackName="t", TemplateBody=body(parameters=declared), Tags=[{"Key": "team", "Value": "a"}])
    for same in ({"TemplateBody": body(parameters=declared)},
                 {"UsePreviousTemplate": True, "Parameters": [{"ParameterKey": "Status", "UsePreviousValue": True}]},
                 {"UsePreviousTemplate": True, "Parameters": values(Status="inactive"),
                  "Tags": [{"Key": "team", "Value": "a"}]}):
        error = refused(cfn.update_stack, "ValidationError", StackName="t", **same)
        assert error["Message"] == "No updates are to be performed."
    assert status(sb, "t") == "CREATE_COMPLETE"
    # A new parameter value, new tags or a new template are updates.
    cfn.update_stack(StackName="t", UsePreviousTemplate=True, Parameters=values(Status="active"))
    cfn.update_stack(StackName="t", UsePreviousTemplate=True, Parameters=values(Status="active"),
                     Tags=[{"Key": "team", "Value": "b"}])
    cfn.update_stack(StackName="t", TemplateBody=body({"Queue": {"Type": "AWS::SQS::Queue"}}, declared),
                     Parameters=values(Status="active"))
    assert status(sb, "t") == "UPDATE_COMPLETE"


def test_termination_protection_blocks_delete(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    cfn.create_stack(StackName="shop-cluster", TemplateBody=body(), EnableTerminationProtection=True)
    error = refused(cfn.delete_stack, "ValidationError", StackName="shop-cluster")
    assert error["Message"] == "Stack [shop-cluster] cannot be deleted while TerminationProtection is enabled"
    assert status(sb, "shop-cluster") == "CREATE_COMPLETE"
    cfn.create_stack(StackName="unprotected", TemplateBody=body())
    cfn.delete_stack(StackName="unprotected")
    cfn.delete_stack(StackName="never-was")  # deleting a stack that does not exist succeeds
    assert stack_names(sb) == ["shop-cluster"]


# ---- moto's behaviour, fixed ------------------------------------------------------------------

# A resource moto refuses to create: its security group does not exist.
BAD_INGRESS = {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
    "GroupId": "sg-0123456789abcdef0", "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0"}}


def _events(sb: Sandbox, name: str) -> list[tuple[str, str]]:
    """(logical id, status) of the stack's events, oldest first."""
    events = sb.client("cloudformation").describe_stack_events(StackName=name)["StackEvents"]
    return [(e["LogicalResourceId"], e["ResourceStatus"]) for e in reversed(events)]


def test_a_resource_that_fails_to_create_rolls_the_stack_back(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    template = body({"Topic": {"Type": "AWS::SNS::Topic"}, "Ingress": {**BAD_INGRESS, "DependsOn": "Topic"}},
                    outputs={"Topic": {"Value": {"Ref": "Topic"}, "Export": {"Name": "nodes-topic"}}})
    cfn.create_stack(StackName="nodes", TemplateBody=template)  # answered: the failure comes after
    assert status(sb, "nodes") == "ROLLBACK_COMPLETE"
    assert _events(sb, "nodes") == [("nodes", "CREATE_IN_PROGRESS"), ("Ingress", "CREATE_FAILED"),
                                    ("nodes", "ROLLBACK_IN_PROGRESS"), ("Topic", "DELETE_COMPLETE"),
                                    ("nodes", "ROLLBACK_COMPLETE")]
    failed = next(e for e in cfn.describe_stack_events(StackName="nodes")["StackEvents"]
                  if e["ResourceStatus"] == "CREATE_FAILED")
    assert "sg-0123456789abcdef0" in failed["ResourceStatusReason"]
    # What it created is gone, and it holds nothing.
    assert sb.client("sns").list_topics()["Topics"] == []
    assert cfn.list_stack_resources(StackName="nodes")["StackResourceSummaries"] == []
    assert cfn.list_exports()["Exports"] == []
    assert "Outputs" not in cfn.describe_stacks(StackName="nodes")["Stacks"][0]
    cfn.delete_stack(StackName="nodes")
    assert stack_names(sb) == []


def test_on_failure_delete_and_do_nothing(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    template = body({"Ingress": BAD_INGRESS})
    stack_id = cfn.create_stack(StackName="deleted", TemplateBody=template, OnFailure="DELETE")["StackId"]
    refused(cfn.describe_stacks, "ValidationError", StackName="deleted")
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    cfn.create_stack(StackName="kept", TemplateBody=template, OnFailure="DO_NOTHING")
    assert status(sb, "kept") == "CREATE_FAILED"
    cfn.create_stack(StackName="kept2", TemplateBody=template, DisableRollback=True)
    assert status(sb, "kept2") == "CREATE_FAILED"


def test_a_failed_update_rolls_back_instead_of_failing_the_call(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    cfn.create_stack(StackName="nodes", TemplateBody=body())
    cfn.update_stack(StackName="nodes", TemplateBody=body({**TOPIC, "Ingress": BAD_INGRESS}))
    assert status(sb, "nodes") == "UPDATE_ROLLBACK_COMPLETE"
    assert ("Ingress", "UPDATE_FAILED") in _events(sb, "nodes")


# ---- moto's update behaviour, corrected ---------------------------------------------------------

def test_use_previous_value_of_a_parameter_that_took_its_default(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    template = body(parameters={"Status": {"Type": "String", "Default": "active"},
                                "Version": {"Type": "String"}})
    cfn.create_stack(StackName="s", TemplateBody=template, Parameters=values(Version="v1"))
    cfn.update_stack(StackName="s", TemplateBody=template, Tags=[{"Key": "owner", "Value": "me"}], Parameters=[
        {"ParameterKey": "Status", "UsePreviousValue": True}, {"ParameterKey": "Version", "UsePreviousValue": True}])
    stack = cfn.describe_stacks(StackName="s")["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {"Status": "active",
                                                                                     "Version": "v1"}


def test_an_update_registers_the_exports_it_adds(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    cfn.create_stack(StackName="s", TemplateBody=body())
    exported = json.loads(body())
    exported["Outputs"] = {"Name": {"Value": "x", "Export": {"Name": "s:Name"}}}
    cfn.update_stack(StackName="s", TemplateBody=json.dumps(exported))
    assert [e["Name"] for e in cfn.list_exports()["Exports"]] == ["s:Name"]

"""CloudFormation resources of `ecsfleet fleet pipeline`'s stack, which moto 5.2.5's CloudFormation
does not know (probed: a template with AWS::CodePipeline::Pipeline, AWS::CodeBuild::Project or
AWS::CodeStarConnections::Connection made CreateStack fail with an internal error).

moto has CodePipeline and CodeBuild APIs; these resource types create, update and delete their
objects through them, so the stack's pipeline and projects are visible to GetPipeline and
BatchGetProjects, and moto's own CodePipeline checks run (the role must trust
codepipeline.amazonaws.com; at least two stages). moto has no CodeStar Connections API: a
connection is an ARN whose status is PENDING, as a new connection's is on AWS until someone
approves it in the console.

What the sandbox does not do: run a pipeline or a build (no source is fetched, no container
started, no `fleet rollout` run), nor register a GitHub webhook (AWS::CodePipeline::Webhook is
accepted with its URL made up).
"""

from __future__ import annotations

import uuid
from typing import Any

_PATCHED = "_ecsfleet_sandbox_delivery"


def _camel(value: Any, raw: bool = False) -> Any:
    """CloudFormation's property names (PascalCase) as the API's (camelCase); an action's
    Configuration keeps its keys and holds strings, as the API's does."""
    if isinstance(value, list):
        return [_camel(v, raw) for v in value]
    if isinstance(value, dict):
        if raw:
            return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in value.items()}
        return {k[:1].lower() + k[1:]: _camel(v, k == "Configuration") for k, v in value.items()}
    return value


class _Resource:
    """What the four resource types share: their type and name property, the attributes
    Fn::GetAtt reads (attribute -> field), the field that is the physical id; by default an
    update keeps the resource and a delete has nothing to remove."""

    TYPE = ""
    NAME_PROPERTY = "Name"
    ATTRIBUTES: dict[str, str] = {}
    PHYSICAL_ID = "name"

    @property
    def physical_resource_id(self) -> str:
        return str(getattr(self, self.PHYSICAL_ID))

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.ATTRIBUTES:
            raise NotImplementedError(attribute_name)
        return getattr(self, self.ATTRIBUTES[attribute_name])

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> Any:
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str) -> None:
        return None


def _models() -> tuple[type, ...]:
    from moto.codebuild.models import codebuild_backends
    from moto.codepipeline.models import codepipeline_backends
    from moto.core.common_models import CloudFormationModel

    # Each a direct subclass of CloudFormationModel: moto finds its models by __subclasses__().
    class Pipeline(_Resource, CloudFormationModel):
        TYPE, ATTRIBUTES = "AWS::CodePipeline::Pipeline", {"Version": "version"}

        def __init__(self, name: str, version: int) -> None:
            self.name, self.version = name, str(version)

        @staticmethod
        def _document(name: str, properties: dict[str, Any]) -> dict[str, Any]:
            document = _camel({k: v for k, v in properties.items() if k not in ("Tags", "RestartExecutionOnUpdate")})
            return {**document, "name": name}

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                            account_id: str, region_name: str, **kwargs: Any) -> Pipeline:
            properties = cloudformation_json["Properties"]
            name = properties.get("Name") or resource_name
            tags = [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags") or []]
            document, _ = codepipeline_backends[account_id][region_name].create_pipeline(
                cls._document(name, properties), tags)
            return cls(name, int(document.get("version", 1)))

        @classmethod
        def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,
                                            cloudformation_json: dict[str, Any], account_id: str,
                                            region_name: str) -> Pipeline:
            properties = cloudformation_json["Properties"]
            name = properties.get("Name") or original_resource.name
            backend = codepipeline_backends[account_id][region_name]
            if name != original_resource.name:  # a new name replaces the pipeline, as on AWS
                backend.delete_pipeline(original_resource.name)
                return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id,
                                                           region_name)
            document = backend.update_pipeline(cls._document(name, properties))
            return cls(name, int(document.get("version", 1)))

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                            account_id: str, region_name: str) -> None:
            name = cloudformation_json["Properties"].get("Name") or resource_name
            codepipeline_backends[account_id][region_name].delete_pipeline(name)

    class Project(_Resource, CloudFormationModel):
        TYPE, ATTRIBUTES = "AWS::CodeBuild::Project", {"Arn": "arn"}

        def __init__(self, name: str, arn: str) -> None:
            self.name, self.arn = name, arn

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                            account_id: str, region_name: str, **kwargs: Any) -> Project:
            p = cloudformation_json["Properties"]
            name = p.get("Name") or resource_name
            metadata = codebuild_backends[account_id][region_name].create_project(
                name, p.get("Description"), _camel(p["Source"]), _camel(p["Artifacts"]), _camel(p["Environment"]),
                p["ServiceRole"], [{"key": t["Key"], "value": t["Value"]} for t in p.get("Tags") or []],
                _camel(p.get("Cache")), p.get("TimeoutInMinutes"), p.get("QueuedTimeoutInMinutes"),
                p.get("SourceVersion"), _camel(p.get("LogsConfig")), _camel(p.get("VpcConfig")))
            return cls(name, metadata["arn"])

        @classmethod
        def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,
                                            cloudformation_json: dict[str, Any], account_id: str,
                                            region_name: str) -> Project:
            codebuild_backends[account_id][region_name].delete_project(original_resource.name)
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id,
                                                       region_name)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                            account_id: str, region_name: str) -> None:
            name = cloudformation_json["Properties"].get("Name") or resource_name
            codebuild_backends[account_id][region_name].delete_project(name)

    class Connection(_Resource, CloudFormationModel):
        TYPE, NAME_PROPERTY, PHYSICAL_ID = "AWS::CodeStarConnections::Connection", "ConnectionName", "arn"
        ATTRIBUTES = {"ConnectionArn": "arn", "ConnectionStatus": "status", "OwnerAccountId": "account"}

        def __init__(self, arn: str, account: str) -> None:
            self.arn, self.account, self.status = arn, account, "PENDING"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                            account_id: str, region_name: str, **kwargs: Any) -> Connection:
            return cls(f"arn:aws:codestar-connections:{region_name}:{account_id}:connection/{uuid.uuid4()}",
                       account_id)

    class Webhook(_Resource, CloudFormationModel):
        TYPE, ATTRIBUTES = "AWS::CodePipeline::Webhook", {"Url": "url"}

        def __init__(self, name: str, url: str) -> None:
            self.name, self.url = name, url

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                            account_id: str, region_name: str, **kwargs: Any) -> Webhook:
            name = cloudformation_json["Properties"].get("Name") or resource_name
            return cls(name, f"https://{region_name}.webhooks.aws/trigger?t={uuid.uuid4()}")

    return Pipeline, Project, Connection, Webhook


def patch_moto_delivery() -> None:
    """Register the resource types with moto's CloudFormation (once per process)."""
    from moto.cloudformation import parsing

    if getattr(parsing, _PATCHED, False):
        return
    setattr(parsing, _PATCHED, _models())
    # moto caches its model map the first time a template is parsed: forget it, so the new
    # subclasses of CloudFormationModel are found.
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()

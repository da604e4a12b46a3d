"""Read template.yaml the way CloudFormation would, far enough to create the same resources on moto.

Only what the local stack needs is resolved: parameter defaults, pseudo parameters and the intrinsic
functions used for names and environment variables (!Ref, !Sub, !Join, !Split, !Select, !GetAtt).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that keeps CloudFormation short-form tags as {'Fn::X': ...} maps."""


def _construct_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class Template:
    """A parsed template plus the values its names resolve to on the local stack."""

    body: dict[str, Any]
    parameters: dict[str, str]

    @classmethod
    def from_file(cls, path: Path, overrides: dict[str, str] | None = None) -> Template:
        body = load_template(path)
        params = {name: str(spec.get("Default", "")) for name, spec in body.get("Parameters", {}).items()}
        params.update(overrides or {})
        return cls(body, params)

    @property
    def resources(self) -> dict[str, Any]:
        return self.body["Resources"]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res.get("Type") == kind}

    def properties(self, logical_id: str) -> dict[str, Any]:
        return self.resources[logical_id].get("Properties", {})

    # -- intrinsic functions -----------------------------------------------------------------------
    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::Region": LOCAL_REGION,
            "AWS::Partition": "aws",
            "AWS::StackName": f"{self.parameters.get('NamePrefix', 'prodlens')}-local",
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def ref(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        return self.physical_name(name)

    def physical_name(self, logical_id: str) -> str:
        """The name CloudFormation gives a resource: its explicit name property, else the logical id."""
        resource = self.resources[logical_id]
        props = resource.get("Properties", {})
        kind = resource["Type"]
        name_property = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::Serverless::Function": "FunctionName",
            "AWS::Athena::WorkGroup": "Name",
        }.get(kind)
        if kind == "AWS::Glue::Database":
            return self.resolve(props["DatabaseInput"]["Name"])
        if kind == "AWS::Glue::Table":
            return self.resolve(props["TableInput"]["Name"])
        if name_property and name_property in props:
            return self.resolve(props[name_property])
        return logical_id

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        if kind == "AWS::SQS::Queue" and attribute == "Arn":
            return f"arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{name}"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{name}"
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{name}"
        if attribute == "QueueName":
            return name
        return f"{logical_id}.{attribute}"

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(self.resolve(variables[token]))
            if "." in token:
                logical_id, attribute = token.split(".", 1)
                return self.get_att(logical_id, attribute)
            return self.ref(token)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    # The intrinsic functions the template uses, evaluated as CloudFormation would.
    _INTRINSICS: ClassVar[dict[str, Callable[[Template, Any], Any]]] = {
        "Ref": lambda t, arg: t.ref(arg),
        "Fn::Sub": lambda t, arg: t._sub(arg[0], arg[1]) if isinstance(arg, list) else t._sub(arg, {}),
        "Fn::Join": lambda t, arg: str(arg[0]).join(str(t.resolve(v)) for v in t.resolve(arg[1])),
        "Fn::Split": lambda t, arg: str(t.resolve(arg[1])).split(arg[0]),
        "Fn::Select": lambda t, arg: t.resolve(arg[1])[int(arg[0])],
        "Fn::GetAtt": lambda t, arg: t.get_att(arg[0], arg[1]),
        "Fn::If": lambda t, arg: t.resolve(arg[1]),  # local stack takes the first branch of conditions
    }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key in self._INTRINSICS:
                return self._INTRINSICS[key](self, arg)
        return {k: self.resolve(v) for k, v in value.items()}

    # -- what the local stack needs ----------------------------------------------------------------
    def function_environment(self, logical_id: str) -> dict[str, str]:
        globals_env = self.body.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        own_env = self.properties(logical_id).get("Environment", {}).get("Variables", {})
        resolved = self.resolve({**globals_env, **own_env})
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in resolved.items()}

    def schedule_inputs(self, logical_id: str) -> list[dict[str, Any]]:
        """The payloads EventBridge Scheduler sends this function (ScheduleV2 `Input`)."""
        events = self.properties(logical_id).get("Events", {})
        payloads = []
        for event in events.values():
            if event.get("Type") in {"ScheduleV2", "Schedule"}:
                text = self.resolve(event.get("Properties", {}).get("Input", "{}"))
                payloads.append(json.loads(text))
        return payloads

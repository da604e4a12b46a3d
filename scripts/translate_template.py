"""Transform template.yaml with samtranslator into plain CloudFormation JSON, offline.

Local CodeUri/ContentUri paths are replaced by s3://dummy/x.zip (raw samtranslator accepts only S3 URIs), and
managed-policy names are not looked up (the template uses none). cfn-lint on the output sees the generated roles,
permissions and event source mappings, so it reports circular dependencies (E3004) that `sam validate --lint`
skips for AWS::Serverless::* resources.

Usage: python scripts/translate_template.py [template.yaml] [out.json]   (stdout when out is omitted)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

DUMMY_URI = "s3://dummy/x.zip"
URI_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


class _NoManagedPolicies:
    """Managed-policy name lookup without IAM calls: no name resolves (ARNs pass through untouched)."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template: dict) -> dict:
    for resource in template.get("Resources", {}).values():
        prop = URI_PROPERTIES.get(resource.get("Type", ""))
        props = resource.get("Properties") or {}
        if prop and isinstance(props.get(prop), str) and not props[prop].startswith("s3://"):
            props[prop] = DUMMY_URI
    globals_function = template.get("Globals", {}).get("Function", {})
    if isinstance(globals_function.get("CodeUri"), str):
        globals_function["CodeUri"] = DUMMY_URI
    return transform(template, {}, _NoManagedPolicies())


def main(argv: list[str]) -> int:
    # samtranslator resolves AWS::Region for ARNs; it only needs a name, never credentials.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    source = Path(argv[1]) if len(argv) > 1 else Path("template.yaml")
    output = json.dumps(translate(yaml_parse(source.read_text())), indent=1, sort_keys=True, default=str)
    if len(argv) > 2:
        Path(argv[2]).write_text(output + "\n")
    else:
        sys.stdout.write(output + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

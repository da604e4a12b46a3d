"""template.yaml against the lake schema, the named-query SQL, pyproject pins and the stack's safety rules.

Fast and offline: the template is parsed with a tag-tolerant YAML loader; no SAM CLI is needed.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from prodlens.normalize.core import INPUT_PREFIXES
from prodlens.schema import TABLES

from .conftest import REPO_ROOT, TEMPLATE_PATH

SQL_DIR = REPO_ROOT / "layers" / "prodlens" / "prodlens" / "sql"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

# IAM statements in this template allowed to use Resource "*": none. The only wildcard grants the functions get
# are the AWS managed policies SAM attaches itself (checked on the translated template below).
WILDCARD_RESOURCE_EXCEPTIONS: set[tuple[str, str]] = set()  # (logical id, Sid)

SAM_MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "logs:CreateLogStream/PutLogEvents (every function)",
    "AWSXrayWriteOnlyAccess": "xray:PutTraceSegments (Tracing: Active)",
    "AWSLambdaSQSQueueExecutionRole": "sqs:ReceiveMessage/DeleteMessage/GetQueueAttributes (normalize's SQS event)",
}

# pyproject `dependencies` pinned with == that no Lambda layer ships, and why.
NOT_IN_LAYERS = {
    "scipy": "test-only oracle for the numpy statistics; numpy+scipy+duckdb would exceed 250 MB",
}


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in resources.items() if res["Type"] == kind}


def _inline_statements(functions: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, fn in functions.items():
        for policy in fn["Properties"].get("Policies", []):
            if isinstance(policy, dict) and "Statement" in policy:
                found.extend((name, statement) for statement in policy["Statement"])
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _refers_to(value: Any, logical_id: str) -> bool:
    """True if value holds !Ref/!GetAtt of logical_id or `${logical_id}`/`${logical_id.Attr}` in a !Sub."""
    if isinstance(value, dict):
        if value.get("Ref") == logical_id:
            return True
        if "Fn::GetAtt" in value and _as_list(value["Fn::GetAtt"])[0] == logical_id:
            return True
        if "Fn::Sub" in value:
            text = _as_list(value["Fn::Sub"])[0]
            if re.search(r"\$\{" + re.escape(logical_id) + r"(\.[A-Za-z]+)?\}", text):
                return True
        return any(_refers_to(v, logical_id) for v in value.values())
    if isinstance(value, list):
        return any(_refers_to(v, logical_id) for v in value)
    return False


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.strip()
    return pins


# ---- layout ---------------------------------------------------------------------------------------


def test_template_top_level_sections_are_in_reading_order(template):
    # Given the template's top-level keys
    keys = [k for k in template if k not in ("AWSTemplateFormatVersion", "Transform")]
    # Then they follow the style guide's order (H14)
    assert keys == ["Description", "Parameters", "Conditions", "Globals", "Resources", "Outputs"]


def test_every_parameter_has_a_description(template):
    missing = [name for name, spec in template["Parameters"].items() if not spec.get("Description")]
    assert missing == []


def test_parameters_required_by_the_stack_exist_with_their_defaults(template):
    params = template["Parameters"]
    assert params["NamePrefix"]["Default"] == "prodlens"
    assert params["Stage"]["AllowedValues"] == ["dev", "prod"]
    assert params["Stage"]["Default"] == "dev"
    assert params["GlueDatabaseName"]["Default"] == "prodlens"
    assert params["GitHubRepos"]["Default"] == ""
    assert params["GitHubTokenSecretName"]["Default"] == "prodlens/github-token"
    assert params["GitHubApiUrl"]["Default"] == "https://api.github.com"
    assert params["MaxObjectBytes"]["Default"] == 4294967296
    assert params["LogRetentionDays"]["Default"] in params["LogRetentionDays"]["AllowedValues"]
    assert params["AthenaBytesScannedCutoff"]["Default"] >= 10_000_000
    assert params["CopilotAccounts"]["Default"] == params["ClaudeCodeAccounts"]["Default"] == ""  # fetchers idle
    assert params["CopilotTokenSecretName"]["Default"] == "prodlens/copilot-token"
    assert params["ClaudeCodeAdminKeySecretName"]["Default"] == "prodlens/anthropic-admin-key"
    schedules = ("NormalizeSweepSchedule", "AggregateSchedule", "CorrelateSchedule", "GitHubSyncSchedule")
    for schedule in (*schedules, "UsageSyncSchedule"):
        assert re.fullmatch(r"(rate|cron)\(.+\)", params[schedule]["Default"]), schedule


# ---- catalog ----------------------------------------------------------------------------------------


def test_glue_tables_are_exactly_the_schema_tables(resources):
    # Given every Glue table of the template
    glue_tables = _of_type(resources, "AWS::Glue::Table")
    # Then there is one per schema table, with logical id <PascalName>Table
    assert {res["Properties"]["TableInput"]["Name"] for res in glue_tables.values()} == set(TABLES)
    assert set(glue_tables) == {f"{_pascal(name)}Table" for name in TABLES}


@pytest.mark.parametrize("table_name", sorted(TABLES))
def test_glue_table_columns_and_partitions_equal_schema(resources, table_name):
    # Given the schema definition and the template's Glue table
    schema = TABLES[table_name]
    table_input = resources[f"{_pascal(table_name)}Table"]["Properties"]["TableInput"]
    storage = table_input["StorageDescriptor"]
    # Then data columns and types match exactly, in order, each with a comment
    assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == list(schema.columns)
    assert all(c.get("Comment", "").strip() for c in storage["Columns"])
    # And partition keys match, all strings
    partition_keys = table_input.get("PartitionKeys", [])
    assert [k["Name"] for k in partition_keys] == list(schema.partition_keys)
    assert {k["Type"] for k in partition_keys} <= {"string"}


@pytest.mark.parametrize("table_name", sorted(TABLES))
def test_glue_table_is_external_parquet_under_its_lake_prefix_without_projection(resources, table_name):
    props = resources[f"{_pascal(table_name)}Table"]["Properties"]
    table_input = props["TableInput"]
    storage = table_input["StorageDescriptor"]
    assert props["DatabaseName"] == {"Ref": "GlueDatabase"}
    assert table_input["TableType"] == "EXTERNAL_TABLE"
    assert storage["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert (storage["InputFormat"], storage["OutputFormat"]) == (PARQUET_INPUT, PARQUET_OUTPUT)
    assert storage["Location"] == {"Fn::Sub": f"s3://${{LakeBucket}}/{table_name}/"}
    # Partitions are registered in Glue by the writers: projection would make Athena ignore them.
    assert not any(key.startswith("projection.") for key in table_input.get("Parameters", {}))


def test_glue_database_takes_its_name_from_the_parameter(resources):
    database = _of_type(resources, "AWS::Glue::Database")
    assert list(database) == ["GlueDatabase"]
    assert database["GlueDatabase"]["Properties"]["DatabaseInput"]["Name"] == {"Ref": "GlueDatabaseName"}


def test_named_queries_equal_the_sql_files(resources):
    # Given the named queries and the SQL files
    queries = {
        res["Properties"]["Name"]: res["Properties"] for res in _of_type(resources, "AWS::Athena::NamedQuery").values()
    }
    files = {path.stem: path.read_text() for path in sorted(SQL_DIR.glob("*.sql"))}
    # Then there is one query per file, whose text is the file's exact text
    assert files, "no SQL files found"
    assert set(queries) == set(files)
    for name, text in files.items():
        assert queries[name]["QueryString"] == text, f"{name}: copy {name}.sql into template.yaml (block scalar |)"
        assert queries[name]["Database"] == {"Ref": "GlueDatabase"}
        assert queries[name]["WorkGroup"] == {"Ref": "AthenaWorkGroup"}


def test_athena_workgroup_enforces_engine_v3_cutoff_and_encrypted_results(resources):
    props = resources["AthenaWorkGroup"]["Properties"]
    config = props["WorkGroupConfiguration"]
    assert props["RecursiveDeleteOption"] is True
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["EngineVersion"]["SelectedEngineVersion"] == "Athena engine version 3"
    assert config["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaBytesScannedCutoff"}
    assert config["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] in {"SSE_S3", "SSE_KMS"}
    assert _refers_to(config["ResultConfiguration"]["OutputLocation"], "AthenaResultsBucket")


# ---- storage ----------------------------------------------------------------------------------------


def test_buckets_are_the_three_expected(resources):
    assert set(_of_type(resources, "AWS::S3::Bucket")) == {"RawBucket", "LakeBucket", "AthenaResultsBucket"}


@pytest.mark.parametrize("bucket", ["RawBucket", "LakeBucket", "AthenaResultsBucket"])
def test_bucket_is_encrypted_private_and_owner_enforced(resources, bucket):
    props = resources[bucket]["Properties"]
    rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rules and all(r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"} for r in rules)
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    # Explicit names, so functions can build them with !Sub instead of referring to the bucket
    assert isinstance(props["BucketName"], dict) and "Fn::Sub" in props["BucketName"]


@pytest.mark.parametrize("bucket", ["RawBucket", "LakeBucket", "AthenaResultsBucket"])
def test_bucket_policy_denies_insecure_transport(resources, bucket):
    # Given the bucket policy attached to the bucket
    policies = [
        res["Properties"]
        for res in _of_type(resources, "AWS::S3::BucketPolicy").values()
        if res["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    assert len(policies) == 1
    statements = policies[0]["PolicyDocument"]["Statement"]
    # Then one statement denies every s3 action without TLS, on the bucket and its objects
    deny = [
        s
        for s in statements
        if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert len(deny) == 1
    assert deny[0]["Principal"] == "*"
    assert deny[0]["Action"] == "s3:*"
    resources_denied = _as_list(deny[0]["Resource"])
    assert {"Fn::GetAtt": [bucket, "Arn"]} in resources_denied
    assert {"Fn::Sub": f"${{{bucket}.Arn}}/*"} in resources_denied


def test_athena_results_expire(resources):
    rules = resources["AthenaResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert any(r.get("ExpirationInDays") and r["Status"] == "Enabled" for r in rules)


def test_lake_bucket_has_no_notification_configuration(resources, functions):
    # Given the lake bucket, which every function writes to
    assert "NotificationConfiguration" not in resources["LakeBucket"]["Properties"]
    # Then no function is triggered by it either
    for name, fn in functions.items():
        for event in fn["Properties"].get("Events", {}).values():
            assert not (event["Type"] == "S3" and _refers_to(event["Properties"], "LakeBucket")), name


def test_raw_bucket_notifies_ingest_queue_for_every_input_prefix(resources):
    raw = resources["RawBucket"]
    configs = raw["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    prefixes = []
    for config in configs:
        assert config["Event"] == "s3:ObjectCreated:*"
        assert config["Queue"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
        (rule,) = config["Filter"]["S3Key"]["Rules"]
        assert rule["Name"] == "prefix"
        prefixes.append(rule["Value"])
    assert sorted(prefixes) == sorted(INPUT_PREFIXES) == ["github/", "traces/", "usage/"]
    assert "IngestQueuePolicy" in _as_list(raw["DependsOn"])
    assert set(raw["Properties"]["NotificationConfiguration"]) == {"QueueConfigurations"}


def test_state_table_key_schema_ttl_pitr_and_sse(resources):
    props = resources["StateTable"]["Properties"]
    assert resources["StateTable"]["Type"] == "AWS::DynamoDB::Table"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True


# ---- queues -----------------------------------------------------------------------------------------


def test_ingest_queue_visibility_timeout_covers_six_normalize_timeouts(resources, template):
    # Given normalize's timeout and its SQS batching window
    normalize = resources["NormalizeFunction"]["Properties"]
    timeout = normalize.get("Timeout", template["Globals"]["Function"]["Timeout"])
    window = normalize["Events"]["Ingest"]["Properties"].get("MaximumBatchingWindowInSeconds", 0)
    queue = resources["IngestQueue"]["Properties"]
    # Then the queue hides a message for at least 6 x timeout (+ window), as AWS advises for SQS event sources
    assert queue["VisibilityTimeout"] >= 6 * timeout + window
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": ["IngestDLQ", "Arn"]}, "maxReceiveCount": 5}
    assert resources["IngestDLQ"]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_ingest_queue_policy_admits_only_the_raw_bucket_and_denies_insecure_transport(resources):
    statements = resources["IngestQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    # The source ARN is built from the raw bucket's name, not !GetAtt (the bucket depends on this policy)
    assert allow["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::Sub": resources["RawBucket"]["Properties"]["BucketName"]["Fn::Sub"].join(
            ["arn:${AWS::Partition}:s3:::", ""]
        )
    }
    assert allow["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert any(s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false" for s in statements)


def test_normalize_consumes_ingest_queue_with_partial_batch_failures(resources):
    event = resources["NormalizeFunction"]["Properties"]["Events"]["Ingest"]
    assert event["Type"] == "SQS"
    props = event["Properties"]
    assert props["Queue"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert props["BatchSize"] == 10
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["ScalingConfig"]["MaximumConcurrency"] >= 2


# ---- functions --------------------------------------------------------------------------------------


def test_functions_are_the_five_handlers_the_usage_fetcher_deployed_once_per_vendor(functions):
    expected = {
        "NormalizeFunction": "functions/normalize/",
        "AggregateFunction": "functions/aggregate/",
        "CorrelateFunction": "functions/correlate/",
        "GitHubSyncFunction": "functions/github_sync/",
        "CopilotSyncFunction": "functions/usage_sync/",
        "ClaudeCodeSyncFunction": "functions/usage_sync/",
    }
    assert {name: fn["Properties"]["CodeUri"] for name, fn in functions.items()} == expected
    assert {fn["Properties"]["Handler"] for fn in functions.values()} == {"app.lambda_handler"}


@pytest.mark.parametrize(
    ("function", "job"),
    [
        ("NormalizeFunction", None),
        ("AggregateFunction", "aggregate"),
        ("CorrelateFunction", "correlate"),
        ("GitHubSyncFunction", "github_sync"),
        ("CopilotSyncFunction", "usage_sync"),
        ("ClaudeCodeSyncFunction", "usage_sync"),
    ],
)
def test_scheduled_payloads_are_json_naming_the_job(functions, function, job):
    schedules = [e for e in functions[function]["Properties"]["Events"].values() if e["Type"] == "ScheduleV2"]
    assert len(schedules) == 1
    payload = json.loads(schedules[0]["Properties"]["Input"])
    if job is None:
        assert payload == {"mode": "sweep"}
    else:
        assert payload == {"job": job, "scheduled_time": "<aws.scheduler.scheduled-time>"}
    assert schedules[0]["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1


def test_every_function_has_a_log_group_with_retention(resources, functions):
    # Given the explicit log groups
    log_groups = _of_type(resources, "AWS::Logs::LogGroup")
    for name, fn in functions.items():
        props = fn["Properties"]
        # Then each function points at its own log group, named /aws/lambda/<FunctionName>, with retention
        group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
        group = log_groups[group_id]["Properties"]
        function_name = props["FunctionName"]["Fn::Sub"]
        assert group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{function_name}"}, name
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name


def test_async_functions_send_failures_to_a_queue(functions):
    for name, fn in functions.items():
        on_failure = fn["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
        assert on_failure["Type"] == "SQS", name
        assert on_failure["Destination"] == {"Fn::GetAtt": ["JobFailureQueue", "Arn"]}, name


def test_functions_never_refer_to_the_raw_bucket_resource(template, functions):
    # A function that refers to the bucket notifying it forms a CloudFormation cycle: names are built with !Sub.
    assert not _refers_to(template["Globals"], "RawBucket")
    for name, fn in functions.items():
        assert not _refers_to(fn["Properties"], "RawBucket"), name


def test_global_bucket_env_vars_are_the_bucket_names_built_with_sub(template, resources):
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["RAW_BUCKET"] == resources["RawBucket"]["Properties"]["BucketName"]
    assert env["LAKE_BUCKET"] == resources["LakeBucket"]["Properties"]["BucketName"]
    assert env["STATE_TABLE"] == {"Ref": "StateTable"}
    assert env["GLUE_DATABASE"] == {"Ref": "GlueDatabaseName"}
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ProdLens"
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL"} <= set(env)


def test_github_sync_env_and_secret_scope(functions):
    props = functions["GitHubSyncFunction"]["Properties"]
    assert props["Environment"]["Variables"] == {
        "GITHUB_REPOS": {"Ref": "GitHubRepos"},
        "GITHUB_TOKEN_SECRET": {"Ref": "GitHubTokenSecretName"},
        "GITHUB_API_URL": {"Ref": "GitHubApiUrl"},
    }
    statements = [s for _, s in _inline_statements({"GitHubSyncFunction": functions["GitHubSyncFunction"]})]
    (secret,) = [s for s in statements if s["Action"] == "secretsmanager:GetSecretValue"]
    assert secret["Resource"]["Fn::Sub"].endswith(":secret:${GitHubTokenSecretName}-*")
    (put,) = [s for s in statements if s["Action"] == "s3:PutObject"]
    assert put["Resource"]["Fn::Sub"].endswith("/github/*")


@pytest.mark.parametrize(
    ("function", "source", "secret", "prefix"),
    [
        ("CopilotSyncFunction", "copilot", "CopilotTokenSecretName", "/usage/copilot/*"),
        ("ClaudeCodeSyncFunction", "claude_code", "ClaudeCodeAdminKeySecretName", "/usage/claude_code/*"),
    ],
)
def test_each_usage_fetcher_reads_only_its_secret_and_writes_only_its_prefix(
    functions, function, source, secret, prefix
):
    props = functions[function]["Properties"]
    env = props["Environment"]["Variables"]
    assert env["USAGE_SOURCE"] == source and env["USAGE_TOKEN_SECRET"] == {"Ref": secret}
    statements = [s for _, s in _inline_statements({function: functions[function]})]
    (read,) = [s for s in statements if s["Action"] == "secretsmanager:GetSecretValue"]
    assert read["Resource"]["Fn::Sub"].endswith(f":secret:${{{secret}}}-*")
    (put,) = [s for s in statements if s["Action"] == "s3:PutObject"]
    assert put["Resource"]["Fn::Sub"].endswith(prefix)


# ---- IAM --------------------------------------------------------------------------------------------


def test_no_iam_statement_grants_resource_star_except_documented(functions, resources):
    # Given every identity-policy statement in the template (function policies and any IAM resources)
    statements = _inline_statements(functions)
    for name, res in resources.items():
        if res["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"}:
            for policy in res["Properties"].get("Policies", [res["Properties"]]):
                document = policy.get("PolicyDocument", {})
                statements.extend((name, s) for s in document.get("Statement", []))
    # Then none grants on Resource "*" unless listed in WILDCARD_RESOURCE_EXCEPTIONS
    offenders = {
        (name, s.get("Sid", "?"))
        for name, s in statements
        if "*" in _as_list(s.get("Resource")) and (name, s.get("Sid", "?")) not in WILDCARD_RESOURCE_EXCEPTIONS
    }
    assert offenders == set()
    # And none allows a whole service ("s3:*") or everything
    wildcard_actions = [(n, s.get("Sid")) for n, s in statements if any(a.endswith("*") for a in _as_list(s["Action"]))]
    assert wildcard_actions == []


def test_function_policies_are_inline_statements_or_known_sam_templates(functions):
    # Policies are scoped inline statements; a bare managed-policy name would hide its grants from review.
    for name, fn in functions.items():
        for policy in fn["Properties"].get("Policies", []):
            assert isinstance(policy, dict) and set(policy) == {"Statement"}, name


def test_glue_permissions_are_scoped_to_this_stack_database(functions):
    tables = tuple(f":table/${{GlueDatabaseName}}/{name}" for name in TABLES)
    for name, statement in _inline_statements(functions):
        actions = _as_list(statement["Action"])
        if any(a.startswith("glue:") for a in actions):
            resources = [r["Fn::Sub"] for r in _as_list(statement["Resource"])]
            assert all(
                r.endswith((":catalog", ":database/${GlueDatabaseName}", ":table/${GlueDatabaseName}/*", *tables))
                for r in resources
            ), name
            assert not {"glue:CreateTable", "glue:DeleteTable", "glue:DeleteDatabase"} & set(actions), name
            # Deleting partitions: aggregate only, named tables only (never table/*): docs/architecture.md
            if {"glue:BatchDeletePartition", "glue:DeletePartition"} & set(actions):
                assert name == "AggregateFunction" and set(actions) == {"glue:BatchDeletePartition"}, name
                assert not [r for r in resources if r.endswith("/*")], name


def test_list_bucket_is_always_limited_by_prefix(functions):
    for name, statement in _inline_statements(functions):
        if "s3:ListBucket" in _as_list(statement["Action"]):
            prefixes = statement["Condition"]["StringLike"]["s3:prefix"]
            assert prefixes and all(p.endswith("/*") for p in _as_list(prefixes)), name


# ---- layers and packaging ---------------------------------------------------------------------------


def test_layers_build_for_the_functions_runtime_and_architecture(template, resources):
    # Given the functions' runtime and architecture
    runtime = template["Globals"]["Function"]["Runtime"]
    (architecture,) = template["Globals"]["Function"]["Architectures"]
    layers = _of_type(resources, "AWS::Serverless::LayerVersion")
    assert set(layers) == {"ProdLensLayer", "DuckDBLayer", "NumpyLayer"}
    for name, layer in layers.items():
        # Then sam build targets the same runtime and architecture (without BuildArchitecture it builds x86_64);
        # the prodlens layer's own Makefile installs its requirements for them
        if layer["Metadata"]["BuildMethod"] == "makefile":
            makefile = (REPO_ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text()
            assert f"build-{name}:" in makefile and f"--python-version {runtime.removeprefix('python')}" in makefile
            assert {"arm64": "manylinux2014_aarch64"}[architecture] in makefile and "--only-binary=:all:" in makefile
            assert layer["Metadata"]["BuildArchitecture"] == architecture, name
        else:
            assert layer["Metadata"] == {"BuildMethod": runtime, "BuildArchitecture": architecture}, name
        assert layer["Properties"]["CompatibleRuntimes"] == [runtime], name
        assert layer["Properties"]["CompatibleArchitectures"] == [architecture], name
        assert layer["Properties"]["RetentionPolicy"] == "Delete", name
        assert (REPO_ROOT / layer["Properties"]["ContentUri"] / "requirements.txt").is_file(), name


def test_functions_use_the_layers_their_imports_need(template, functions):
    global_layers = template["Globals"]["Function"]["Layers"]
    assert global_layers == [{"Ref": "ProdLensLayer"}]
    layers = {name: [ref["Ref"] for ref in fn["Properties"].get("Layers", [])] for name, fn in functions.items()}
    assert layers == {
        "NormalizeFunction": ["DuckDBLayer"],
        "AggregateFunction": ["DuckDBLayer"],
        "CorrelateFunction": ["DuckDBLayer", "NumpyLayer"],
        "GitHubSyncFunction": [],
        "CopilotSyncFunction": [],
        "ClaudeCodeSyncFunction": [],
    }


def test_layer_requirement_pins_equal_pyproject_dependencies():
    # Given pyproject's pinned runtime dependencies and every layer's requirements
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    project_pins = _pins(pyproject["project"]["dependencies"])
    layer_pins: dict[str, str] = {}
    for requirements in sorted((REPO_ROOT / "layers").glob("*/requirements.txt")):
        pins = _pins(requirements.read_text().splitlines())
        assert pins, f"{requirements} pins nothing"
        assert not set(pins) & set(layer_pins), f"{requirements} repeats a pin of another layer"
        layer_pins.update(pins)
    # Then each layer pin is pyproject's pin, and every pyproject pin ships in a layer unless documented
    assert {name: project_pins.get(name) for name in layer_pins} == layer_pins
    assert set(project_pins) - set(layer_pins) == set(NOT_IN_LAYERS)


def test_layer_requirements_have_only_exact_pins():
    for requirements in sorted((REPO_ROOT / "layers").glob("*/requirements.txt")):
        for line in requirements.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            assert not line or re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.]+", line), f"{requirements}: {line}"


def test_every_function_folder_has_a_requirements_file(functions):
    # sam build wants one per CodeUri; dependencies come from the layers, so they stay empty
    for name, fn in functions.items():
        requirements = REPO_ROOT / fn["Properties"]["CodeUri"] / "requirements.txt"
        if requirements.exists():
            assert not _pins(requirements.read_text().splitlines()), name


# ---- outputs ----------------------------------------------------------------------------------------


def test_outputs_cover_buckets_queues_table_catalog_functions_and_layers(template, resources):
    referenced = set()
    for output in template["Outputs"].values():
        value = output["Value"]
        if "Ref" in value:
            referenced.add(value["Ref"])
        elif "Fn::GetAtt" in value:
            referenced.add(value["Fn::GetAtt"][0])
        assert output.get("Description")
    wanted = set()
    for kind in (
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::DynamoDB::Table",
        "AWS::Glue::Database",
        "AWS::Athena::WorkGroup",
        "AWS::Serverless::Function",
        "AWS::Serverless::LayerVersion",
    ):
        wanted |= set(_of_type(resources, kind))
    assert wanted - referenced == set()


# ---- translated template (needs samtranslator, which ships with the SAM CLI / cfn-lint[sam]) --------


def test_translated_template_has_no_dependency_cycle():
    # Given the template transformed by samtranslator (what CloudFormation deploys)
    from samtranslator import yaml_helper  # the dev extra: a missing translator fails the check, never skips it

    spec = importlib.util.spec_from_file_location("translate_template", REPO_ROOT / "scripts" / "translate_template.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    cfn = module.translate(yaml_helper.yaml_parse(TEMPLATE_PATH.read_text()))
    # When we follow Ref, GetAtt, ${..} in Sub and DependsOn between resources
    names = set(cfn["Resources"])
    graph = {
        name: {d for d in names if d != name and (_refers_to(res, d) or d in _as_list(res.get("DependsOn", [])))}
        for name, res in cfn["Resources"].items()
    }
    # Then the only managed policies are the ones SAM attaches, as documented
    for name, res in cfn["Resources"].items():
        if res["Type"] == "AWS::IAM::Role":
            arns = res["Properties"].get("ManagedPolicyArns", [])
            assert {arn.rsplit("/", 1)[-1] for arn in arns} <= set(SAM_MANAGED_POLICIES), name
    # And there is no cycle
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in graph[node]:
            if state.get(dep) == 1:
                pytest.fail("cycle: " + " -> ".join([*path[path.index(dep) :], dep]))
            if dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])


# ---- alarms and notifications -----------------------------------------------------------------------

ALARMS = {
    "IngestDLQAlarm",
    "JobFailureAlarm",
    "NormalizeErrorsAlarm",
    "GitHubSyncFailureAlarm",
    "UsageSyncFailureAlarm",
    "DeadLetterShareAlarm",
    "DataGapAlarm",
    "DailyCostAlarm",
}
LAYER_SOURCES = REPO_ROOT / "layers" / "prodlens" / "prodlens"


def _condition_holds(template: dict[str, Any], name: str, values: dict[str, str]) -> bool:
    """Evaluate a Conditions entry (Fn::Not / Fn::Equals / Ref of parameters) as CloudFormation would."""

    def value(node: Any) -> Any:
        if isinstance(node, dict) and "Ref" in node:
            param = template["Parameters"][node["Ref"]]
            return str(values.get(node["Ref"], param.get("Default", "")))
        if isinstance(node, dict) and "Fn::Not" in node:
            return not value(node["Fn::Not"][0])
        if isinstance(node, dict) and "Fn::Equals" in node:
            left, right = (value(v) for v in node["Fn::Equals"])
            return str(left) == str(right)
        if isinstance(node, dict) and "Condition" in node:
            return value(template["Conditions"][node["Condition"]])
        return node

    return bool(value(template["Conditions"][name]))


def _alarm_metrics(alarm: dict[str, Any]) -> list[tuple[str, str]]:
    """(namespace, metric name) of every metric an alarm reads, directly or inside metric math."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [(props["Namespace"], props["MetricName"])]
    return [
        (m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"])
        for m in props["Metrics"]
        if "MetricStat" in m
    ]


def _metric_emitters(name: str) -> set[str]:
    """The layer modules that emit metric `name`: they call add_metric/single_metric and hold the name as a literal."""
    return {
        path.relative_to(LAYER_SOURCES).as_posix()
        for path in LAYER_SOURCES.rglob("*.py")
        if re.search(r"\b(add_metric|single_metric)\(", text := path.read_text()) and f'"{name}"' in text
    }


def test_the_alarms_are_the_documented_ones(resources):
    assert set(_of_type(resources, "AWS::CloudWatch::Alarm")) == ALARMS


@pytest.mark.parametrize("alarm", sorted(ALARMS))
def test_every_alarm_notifies_the_topic_on_alarm_and_on_recovery(resources, alarm):
    props = resources[alarm]["Properties"]
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert props["OKActions"] == [{"Ref": "AlarmTopic"}]
    assert props["TreatMissingData"] in {"notBreaching", "ignore"}
    assert props["AlarmDescription"].strip()


def test_custom_metric_alarms_watch_metrics_the_functions_emit(resources):
    # Given every metric of namespace ProdLens an alarm reads
    watched = {
        name
        for res in _of_type(resources, "AWS::CloudWatch::Alarm").values()
        for ns, name in _alarm_metrics(res)
        if ns == "ProdLens"
    }
    assert watched == {
        "GithubReposFailed",
        "UsageSyncFailed",
        "DeadLetters",
        "RowsWritten",
        "WeekdayHoursSinceLastTrace",
        "MaxRepoDailyCostUsd",
    }
    # Then each is emitted by the code under exactly that name (a typo would leave the alarm without data)
    assert all(_metric_emitters(name) for name in watched), {n: _metric_emitters(n) for n in watched}
    # And the dead-letter share's metrics come from normalize alone (same namespace and dimension for all functions)
    assert _metric_emitters("RowsWritten") == {"services/normalize.py"}
    assert _metric_emitters("DeadLetters") == {"services/normalize.py"}


def test_alarm_thresholds_come_from_their_parameters(template, resources):
    params = template["Parameters"]
    assert resources["DeadLetterShareAlarm"]["Properties"]["Threshold"] == {"Ref": "DeadLetterShareThreshold"}
    assert resources["DataGapAlarm"]["Properties"]["Threshold"] == {"Ref": "DataGapHours"}
    assert resources["DailyCostAlarm"]["Properties"]["Threshold"] == {"Ref": "DailyCostBudgetUsd"}
    assert params["DeadLetterShareThreshold"]["Default"] == 0.05
    assert params["DataGapHours"]["Default"] == 24
    assert params["DailyCostBudgetUsd"]["Default"] == 0
    assert params["AlarmEmail"]["Default"] == ""
    assert re.fullmatch(params["AlarmEmail"]["AllowedPattern"], "ops@acme.dev")
    assert re.fullmatch(params["AlarmEmail"]["AllowedPattern"], "")
    assert not re.fullmatch(params["AlarmEmail"]["AllowedPattern"], "ops@acme.dev,cto@acme.dev")


def test_data_gap_alarm_reads_weekday_hours_and_keeps_its_state_between_sweeps(resources):
    props = resources["DataGapAlarm"]["Properties"]
    assert (props["MetricName"], props["Statistic"], props["TreatMissingData"]) == (
        "WeekdayHoursSinceLastTrace",
        "Maximum",
        "ignore",
    )


def test_dead_letter_share_is_dead_letters_over_rows_plus_dead_letters_with_a_volume_floor(resources):
    metrics = {m["Id"]: m for m in resources["DeadLetterShareAlarm"]["Properties"]["Metrics"]}
    (returned,) = [m for m in metrics.values() if m.get("ReturnData")]
    assert returned["Expression"] == (
        "IF(FILL(dl, 0) + FILL(rows, 0) >= 100, FILL(dl, 0) / (FILL(dl, 0) + FILL(rows, 0)), 0)"
    )
    assert metrics["dl"]["MetricStat"]["Metric"]["MetricName"] == "DeadLetters"
    assert metrics["rows"]["MetricStat"]["Metric"]["MetricName"] == "RowsWritten"
    assert {m["MetricStat"]["Stat"] for m in metrics.values() if "MetricStat" in m} == {"Sum"}


def test_github_sync_alarm_adds_failed_repositories_and_failed_invocations(resources):
    metrics = {m["Id"]: m for m in resources["GitHubSyncFailureAlarm"]["Properties"]["Metrics"]}
    assert metrics["repos"]["MetricStat"]["Metric"]["MetricName"] == "GithubReposFailed"
    errors = metrics["errors"]["MetricStat"]["Metric"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "GitHubSyncFunction"}}]


def test_usage_sync_alarm_adds_failed_organizations_and_failed_invocations_of_both_fetchers(resources):
    metrics = {m["Id"]: m for m in resources["UsageSyncFailureAlarm"]["Properties"]["Metrics"]}
    assert metrics["accounts"]["MetricStat"]["Metric"]["MetricName"] == "UsageSyncFailed"
    functions = {
        metrics[i]["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for i in ("copilot", "claude")
        if metrics[i]["MetricStat"]["Metric"]["MetricName"] == "Errors"
    }
    assert functions == {"CopilotSyncFunction", "ClaudeCodeSyncFunction"}
    assert set(metrics["failures"]["Expression"].split(" + ")) == {
        "FILL(accounts, 0)",
        "FILL(copilot, 0)",
        "FILL(claude, 0)",
    }


def test_alarm_topic_is_encrypted_with_a_rotated_key_cloudwatch_alarms_may_use(resources):
    topic = resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": ["AlarmTopicKey", "Arn"]}
    key = resources["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    statements = key["KeyPolicy"]["Statement"]
    (service,) = [s for s in statements if "Service" in s["Principal"]]
    assert service["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(service["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert service["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # And nothing else but the account itself is named in the key policy
    others = [s["Principal"] for s in statements if s is not service]
    assert others == [{"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}]


def test_alarm_topic_policy_lets_only_this_accounts_cloudwatch_alarms_publish(resources):
    policy = resources["AlarmTopicPolicy"]["Properties"]
    assert policy["Topics"] == [{"Ref": "AlarmTopic"}]
    statements = policy["PolicyDocument"]["Statement"]
    # Given the one Allow: the CloudWatch service, sns:Publish, from alarms of this account and region
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == {"Ref": "AlarmTopic"}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert allow["Condition"]["ArnLike"] == {
        "aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"}
    }
    # And every principal that is not an AWS service (users, roles, the functions) is denied publishing
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert (deny["Principal"], deny["Action"], deny["Resource"]) == ("*", "sns:Publish", {"Ref": "AlarmTopic"})
    assert deny["Condition"] == {"BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}


@pytest.mark.parametrize(("email", "subscribed"), [("", False), ("ops@acme.dev", True)])
def test_email_subscription_exists_only_when_alarm_email_is_set(template, resources, email, subscribed):
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert _condition_holds(template, "HasAlarmEmail", {"AlarmEmail": email}) is subscribed
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    # No other resource is conditional on the e-mail: the topic and the alarms exist either way
    conditional = {n for n, r in resources.items() if r.get("Condition") == "HasAlarmEmail"}
    assert conditional == {"AlarmEmailSubscription"}


@pytest.mark.parametrize(("budget", "alarmed"), [("0", False), ("25", True), ("0.5", True)])
def test_cost_alarm_exists_only_with_a_budget(template, resources, budget, alarmed):
    assert resources["DailyCostAlarm"]["Condition"] == "HasCostBudget"
    assert _condition_holds(template, "HasCostBudget", {"DailyCostBudgetUsd": budget}) is alarmed


def test_no_function_may_put_metrics_or_publish_to_a_topic(functions):
    # Metrics are EMF log lines and notifications come from alarms: no function needs either permission
    for name, statement in _inline_statements(functions):
        actions = {a.lower() for a in _as_list(statement["Action"])}
        assert not {a for a in actions if a.startswith(("sns:", "cloudwatch:"))}, name
    for name, fn in functions.items():
        assert not _refers_to(fn["Properties"], "AlarmTopic"), name


# ---- what the prodlens layer ships ------------------------------------------------------------------------------

LAYER_MAKEFILE = REPO_ROOT / "layers" / "prodlens" / "Makefile"
LOCAL_ONLY_LIBRARIES = {"moto", "yaml", "argparse"}  # the embedded stack and the CLI


def _local_only() -> set[str]:
    """The layer Makefile's LOCAL_ONLY paths, as module names (prodlens/local -> prodlens.local)."""
    (line,) = [line for line in LAYER_MAKEFILE.read_text().splitlines() if line.startswith("LOCAL_ONLY")]
    return {p.removesuffix(".py").replace("/", ".") for p in line.split(":=", 1)[1].split()}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_layer_ships_no_local_harness_and_nothing_shipped_needs_it(template):
    # Given the modules the layer build leaves out (the embedded stack, the CLI, the local-folder fetchers)
    assert template["Resources"]["ProdLensLayer"]["Metadata"]["BuildMethod"] == "makefile"
    local_only = _local_only()

    def is_local(module: str) -> bool:
        return any(module == m or module.startswith(m + ".") for m in local_only)

    modules = {
        "prodlens."
        + path.relative_to(LAYER_SOURCES).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__"): path
        for path in LAYER_SOURCES.rglob("*.py")
    }
    shipped = {name: path for name, path in modules.items() if not is_local(name)}
    handlers = {f"functions/{p.parent.name}": p for p in (REPO_ROOT / "functions").glob("*/app.py")}
    # Then nothing the layer ships, and no handler, imports a left-out module or a laptop-only library
    for name, path in {**shipped, **handlers}.items():
        imported = _imports(path)
        assert not [m for m in imported if is_local(m)], name
        assert not {m.split(".")[0] for m in imported} & LOCAL_ONLY_LIBRARIES, name
    # And every module that needs one of those libraries is left out
    for name, path in modules.items():
        if {m.split(".")[0] for m in _imports(path)} & LOCAL_ONLY_LIBRARIES:
            assert is_local(name), name

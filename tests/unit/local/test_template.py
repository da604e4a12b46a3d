"""The local stack reads template.yaml as CloudFormation would for names, environments and schedules."""

from __future__ import annotations

from pathlib import Path

from prodlens.local.template import LOCAL_ACCOUNT, LOCAL_REGION, Template

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def test_bucket_names_resolve_from_parameter_defaults_and_pseudo_parameters():
    t = Template.from_file(TEMPLATE)
    raw = t.physical_name("RawBucket")
    assert raw.startswith(t.parameters["NamePrefix"]) and LOCAL_ACCOUNT in raw and LOCAL_REGION in raw
    assert t.physical_name("LakeBucket") != raw


def test_parameter_overrides_change_every_derived_name():
    t = Template.from_file(TEMPLATE, {"NamePrefix": "acme", "Stage": "prod"})
    assert t.physical_name("RawBucket").startswith("acme-prod-")
    assert t.function_environment("NormalizeFunction")["RAW_BUCKET"] == t.physical_name("RawBucket")


def test_every_function_environment_names_the_stack_resources():
    t = Template.from_file(TEMPLATE)
    for function in ("NormalizeFunction", "AggregateFunction", "CorrelateFunction"):
        env = t.function_environment(function)
        assert env["LAKE_BUCKET"] == t.physical_name("LakeBucket")
        assert env["STATE_TABLE"] == t.physical_name("StateTable")
        assert env["GLUE_DATABASE"] == t.parameters["GlueDatabaseName"]


def test_schedules_send_the_payloads_the_handlers_expect():
    t = Template.from_file(TEMPLATE)
    assert t.schedule_inputs("NormalizeFunction") == [{"mode": "sweep"}]
    assert t.schedule_inputs("AggregateFunction")[0]["job"] == "aggregate"
    assert t.schedule_inputs("CorrelateFunction")[0]["job"] == "correlate"


def test_sub_escape_keeps_literal_placeholders():
    t = Template({"Resources": {}}, {"Stage": "dev"})
    assert t.resolve({"Fn::Sub": "a-${Stage}-${!literal}"}) == "a-dev-${literal}"
    assert t.resolve({"Fn::Join": ["_", {"Fn::Split": ["-", "prodlens-dev"]}]}) == "prodlens_dev"

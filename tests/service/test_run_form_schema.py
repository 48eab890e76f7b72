"""The served deployments' parameter schemas, as the run form and the server read them: one input
per parameter (no "type | None" switch), the config's choices, and what the server accepts.

No server is needed: `flows.service.deployments.deployments` builds the deployments, and Prefect's own schema
validation (the function its API runs on a new flow run) judges the parameters."""

from __future__ import annotations

import pytest
from prefect.utilities.schema_tools import ValidationError, validate


@pytest.fixture
def served(project):
    from tests.conftest import write_config

    from flows.config import load_settings
    from flows.service.deployments import deployments

    config = write_config(
        project,
        feeds=[
            {"url": "http://127.0.0.9/a.xml", "name": "Local A"},
            {"url": "http://127.0.0.9/b.xml", "name": "Local B"},
        ],
    )
    settings = load_settings(config)
    return settings, {
        f"{d.flow_name}/{d.name}": d._parameter_openapi_schema.model_dump_for_openapi() for d in deployments(settings)
    }


def test_no_parameter_is_a_switch_between_a_type_and_none(served):
    _settings, schemas = served
    assert set(schemas) == {"ingest/scheduled", "digest/daily", "digest/weekly", "ingest-shard/served"}
    for name, schema in schemas.items():
        for parameter, prop in schema["properties"].items():
            assert "anyOf" not in prop and prop.get("type") != "null", (name, parameter, prop)
            assert "default" not in prop or prop["default"] is not None, (name, parameter, prop)
            assert prop["description"], (name, parameter)
    daily = schemas["digest/daily"]["properties"]
    assert daily["since"]["type"] == daily["until"]["type"] == "string"
    assert daily["since"]["format"] == daily["until"]["format"] == "date-time"  # the UI's date-time picker
    assert daily["period"]["enum"] == ["daily", "weekly"]
    assert schemas["ingest/scheduled"]["properties"]["max_items"]["type"] == "integer"


def test_choices_come_from_the_served_config(served):
    settings, schemas = served
    from flows.config import load_taxonomy

    ids = load_taxonomy(settings.issues_file).ids + ["other"]
    for name in ("digest/daily", "digest/weekly"):
        issues = schemas[name]["properties"]["issues"]
        assert issues["type"] == "array" and issues["uniqueItems"] is True  # a multi-select
        assert issues["items"]["enum"] == ids
    assert schemas["ingest/scheduled"]["properties"]["sources"]["enum"] == [
        "all",
        "seeds",
        "feeds",
        "Local A",
        "Local B",
    ]
    assert schemas["ingest-shard/served"]["properties"]["feeds"]["items"]["enum"] == [
        "http://127.0.0.9/a.xml",
        "http://127.0.0.9/b.xml",
    ]


@pytest.mark.parametrize(
    "parameters",
    [
        {},  # the form left empty sends nothing
        {"since": "2026-11-01T00:00:00Z", "until": "2026-11-08T00:00:00+08:00"},  # what the picker sends
        {"since": None, "until": None, "to": None, "issues": None},  # an explicit null still works
        {"issues": ["taiwan", "other"], "to": "desk@example.org", "send": True},
    ],
)
def test_the_server_accepts_what_the_form_sends(served, parameters):
    _settings, schemas = served
    validate(parameters, schemas["digest/daily"], raise_on_error=True)


@pytest.mark.parametrize(
    "parameters, field",
    [
        ({"since": "yesterday-ish"}, "since"),
        ({"issues": ["space_race"]}, "issues"),
        ({"issues": ["taiwan", "taiwan"]}, "issues"),
        ({"to": "not an address"}, "to"),
        ({"period": "hourly"}, "period"),
    ],
)
def test_the_server_refuses_what_does_not_fit(served, parameters, field):
    _settings, schemas = served
    with pytest.raises(ValidationError) as refused:
        validate(parameters, schemas["digest/daily"], raise_on_error=True)
    assert field in str(refused.value)


def test_a_shard_run_started_by_a_parent_fits_the_served_schema(served):
    """The parent leaves out what is None (`max_items` when not given), as the form does."""
    from flows.service.flows import _given

    _settings, schemas = served
    parameters = _given(
        {"feeds": ["http://127.0.0.9/b.xml"], "max_items": None, "force": False, "parent_lease": "token"}
    )
    assert "max_items" not in parameters
    validate(parameters, schemas["ingest-shard/served"], raise_on_error=True)

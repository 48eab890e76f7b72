from pathlib import Path

import pytest
import yaml

from flows.config import ConfigError, load_settings, load_taxonomy
from tests.conftest import ROOT, write_config, load_settings_with

TAXONOMY_IDS = [
    "diplomacy",
    "trade",
    "technology",
    "military",
    "taiwan",
    "human_rights",
    "climate",
    "fentanyl",
    "cyber",
    "ukraine_russia",
    "north_korea_iran",
    "economy",
    "health",
    "people",
]


def test_default_config_loads_with_paths_resolved_against_its_folder():
    s = load_settings(ROOT / "config" / "pipeline.yaml")
    assert s.data_dir == ROOT / "data"
    assert s.seeds_dir == ROOT / "seeds"
    assert s.issues_file == ROOT / "config" / "issues.yaml"
    assert s.database_url == f"sqlite:///{ROOT / 'data' / 'uschina-digest.sqlite3'}"
    assert s.email.from_address == "digest@localhost"
    assert s.fetch.allow_private_addresses is False


def test_default_taxonomy_has_the_fourteen_ids_in_order():
    assert load_taxonomy(ROOT / "config" / "issues.yaml").ids == TAXONOMY_IDS


def test_partial_file_takes_defaults_for_the_rest(tmp_path: Path):
    (tmp_path / "seeds").mkdir()
    cfg = tmp_path / "c" / "p.yaml"
    cfg.parent.mkdir()
    cfg.write_text("seeds_dir: ../seeds\nfetch: {max_per_host: 3}\n")
    s = load_settings(cfg)
    assert s.seeds_dir == tmp_path / "seeds"
    assert s.data_dir == tmp_path / "data"
    assert s.fetch.max_per_host == 3 and s.fetch.max_connections == 16
    assert s.digest.period == "daily" and s.feeds == []


def test_empty_seeds_dir_means_no_seeds(tmp_path: Path):
    cfg = tmp_path / "p.yaml"
    cfg.write_text("seeds_dir: ''\n")
    assert load_settings(cfg).seeds_dir is None


@pytest.mark.parametrize(
    "body, expected",
    [
        ("fetch: {max_connections: 0}", "fetch.max_connections: Input should be greater than or equal to 1"),
        ("digest: {period: hourly}", "digest.period: Input should be 'daily' or 'weekly'"),
        ("feeds: [{url: 'ftp://x.org/feed'}]", "feeds.0.url: must be an http:// or https:// URL"),
        ("colour: blue", "colour: unknown key"),
        ("email: {recipients: [{address: 'not-an-address'}]}", "email.recipients.0.address: must be an email address"),
        ("schedule: {timezone: Mars/Olympus}", "schedule.timezone: unknown time zone"),
        ("fetch: [1, 2]", "fetch: Input should be a valid dictionary"),
    ],
)
def test_invalid_values_name_file_field_and_expectation(tmp_path: Path, body: str, expected: str):
    cfg = tmp_path / "p.yaml"
    cfg.write_text("seeds_dir: null\n" + body + "\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert str(cfg.resolve()) in str(err.value)
    assert expected in str(err.value)


def test_broken_yaml_reports_line(tmp_path: Path):
    cfg = tmp_path / "p.yaml"
    cfg.write_text("seeds_dir: null\nfeeds: [\n  {url: x\n")
    with pytest.raises(ConfigError, match=r"p\.yaml: line \d+, column \d+: invalid YAML"):
        load_settings(cfg)


def test_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_password_in_file_is_refused(tmp_path: Path):
    cfg = tmp_path / "p.yaml"
    cfg.write_text("seeds_dir: null\nemail: {password: hunter2}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert "email.password" in str(err.value) and "hunter2" not in str(err.value)


def test_environment_overrides_file(project: Path):
    cfg = write_config(project, digest={"period": "daily"})
    env = {
        "USCHINA_DIGEST_DIGEST__PERIOD": "weekly",
        "USCHINA_DIGEST_SMTP_HOST": "127.0.0.1",
        "USCHINA_DIGEST_SMTP_PORT": "2525",
        "USCHINA_DIGEST_SMTP_PASSWORD": "s3cret",
        "USCHINA_DIGEST_FETCH__ALLOW_PRIVATE_ADDRESSES": "true",
        "USCHINA_DIGEST_STORE_URL": "sqlite:////tmp/x.sqlite3",
    }
    s = load_settings_with(cfg, env)
    assert s.digest.period == "weekly"
    assert (s.email.smtp_host, s.email.smtp_port) == ("127.0.0.1", 2525)
    assert s.email.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s) and "s3cret" not in s.model_dump_json()
    assert s.fetch.allow_private_addresses is True
    assert s.database_url == "sqlite:////tmp/x.sqlite3"


def test_invalid_environment_value_names_the_field(project: Path):
    with pytest.raises(ConfigError, match="fetch.max_per_host"):
        load_settings_with(project / "config" / "pipeline.yaml", {"USCHINA_DIGEST_FETCH__MAX_PER_HOST": "many"})


def test_prefect_yaml_schedules_are_the_configured_ones():
    """prefect.yaml (scale-out) repeats the schedules of config/pipeline.yaml (`serve`); they must not drift."""
    schedule = load_settings(ROOT / "config" / "pipeline.yaml").schedule
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    by_name = {d["name"]: d.get("schedules", []) for d in spec["deployments"]}
    assert by_name["scheduled"] == [
        {
            "interval": schedule.ingest_interval_minutes * 60,
            "anchor_date": by_name["scheduled"][0]["anchor_date"],
            "timezone": schedule.timezone,
        }
    ]
    assert by_name["daily"] == [{"cron": schedule.daily_cron, "timezone": schedule.timezone}]
    assert by_name["weekly"] == [{"cron": schedule.weekly_cron, "timezone": schedule.timezone}]
    assert by_name["pool"] == []


def test_environment_lists_are_json_and_the_smtp_shortcuts_win(project: Path):
    cfg = project / "config" / "pipeline.yaml"
    s = load_settings_with(
        cfg,
        {
            "USCHINA_DIGEST_FEEDS": '[{"url": "https://news.example.org/feed"}]',
            "USCHINA_DIGEST_EMAIL__SMTP_HOST": "nested.example.org",
            "USCHINA_DIGEST_SMTP_HOST": "short.example.org",
            "USCHINA_DIGEST_EMAIL__RECIPIENTS": '[{"address": "a@example.org"}]',
        },
    )
    assert [f.url for f in s.feeds] == ["https://news.example.org/feed"]
    assert s.email.smtp_host == "short.example.org" and [r.address for r in s.email.recipients] == ["a@example.org"]
    with pytest.raises(ConfigError) as err:
        load_settings_with(cfg, {"USCHINA_DIGEST_FEEDS": "[{url: not json}]"})
    assert "feeds" in str(err.value) and "JSON" in str(err.value) and "\n" not in str(err.value)

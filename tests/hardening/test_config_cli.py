"""Config and CLI: every invalid value of every setting gets one line naming the field (from the
file or from the environment), and the SMTP password never shows in an error, a log, a report,
a digest or the store."""

from __future__ import annotations

import base64
import logging
import typing
from pathlib import Path
from typing import Any, Literal

import annotated_types
import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel, SecretStr

from flows.cli import main
from flows.config import ConfigError, Settings, load_settings
from tests.conftest import load_settings_with

from .util import make_project


def _invalid_values(annotation: Any, metadata: list) -> list[Any]:
    """Values a field of this type and these constraints must refuse."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        members = [a for a in args if a is not type(None)]
        if all(typing.get_origin(m) is Literal for m in members):
            return ["bogus-value"]
        return [{"not": "this"}] if members else []
    if annotation is bool:
        return ["maybe"]
    if annotation in (int, float):
        out: list[Any] = ["lots"]
        for m in metadata:
            if isinstance(m, annotated_types.Ge):
                out.append(m.ge - 1)
            if isinstance(m, annotated_types.Gt):
                out.append(m.gt)
            if isinstance(m, annotated_types.Le):
                out.append(m.le + 1)
            if isinstance(m, annotated_types.Lt):
                out.append(m.lt)
        return out
    if origin is Literal:
        return ["bogus-value"]
    if origin is list:
        return ["not-a-list"]
    if annotation in (str, Path):
        return [{"not": "this"}]
    return [{"not": "this"}]


def _cases(model: type[BaseModel], prefix: tuple) -> list[tuple[tuple, Any]]:
    cases = []
    for name, field in model.model_fields.items():
        if field.exclude or name == "config_path":
            continue
        key = field.validation_alias.choices[0] if getattr(field.validation_alias, "choices", None) else name
        path = (*prefix, key)
        annotation = field.annotation
        if typing.get_origin(annotation) is typing.Union and SecretStr in typing.get_args(annotation):
            continue  # secrets are refused in files altogether
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            cases.append((path, "not-a-section"))
            cases += _cases(annotation, path)
            continue
        list_args = typing.get_args(annotation) if typing.get_origin(annotation) is list else ()
        if list_args and isinstance(list_args[0], type) and issubclass(list_args[0], BaseModel):
            cases.append((path, "not-a-list"))
            sample = {"feeds": {"url": "http://127.0.0.1/f.xml"}, "recipients": {"address": "a@example.org"}}.get(
                name, {}
            )
            for sub_path, bad in _cases(list_args[0], ()):
                cases.append(((*path, 0, *sub_path), ("item", sample, bad)))
            continue
        for bad in _invalid_values(annotation, list(field.metadata)):
            cases.append((path, bad))
    return cases


# Values validators refuse beyond their types.
EXTRA_CASES = [
    (("schedule", "timezone"), "Mars/Olympus_Mons"),
    (("feeds",), [{"url": "ftp://x/feed"}]),
    (("feeds",), [{"url": "http://a/f"}, {"url": "http://a/f"}]),
    (("email", "recipients"), [{"address": "not an address"}]),
    (("nonsense_key",), 1),
]
CASES = _cases(Settings, ()) + EXTRA_CASES


def _set(cfg: dict, path: tuple, value: Any) -> dict:
    if isinstance(value, tuple) and value[:1] == ("item",):
        _, sample, bad = value
        item = dict(sample)
        inner = path[path.index(0) + 1 :]
        node = item
        for k in inner[:-1]:
            node = node.setdefault(k, {})
        node[inner[-1]] = bad
        value, path = [item], path[: path.index(0)]
    node = cfg
    for k in path[:-1]:
        node = node.setdefault(k, {}) if isinstance(node.get(k), dict) or k not in node else node[k]
    node[path[-1]] = value
    return cfg


def _field_name(path: tuple) -> str:
    return ".".join(str(p) for p in path)


@pytest.mark.parametrize("path, bad", CASES, ids=[f"{_field_name(p)}={b!r:.20}" for p, b in CASES])
def test_every_invalid_value_is_one_line_naming_the_field(tmp_path: Path, path: tuple, bad: Any) -> None:
    config = make_project(tmp_path)
    cfg = _set(yaml.safe_load(config.read_text()), path, bad)
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    message = str(err.value)
    assert "\n" not in message, f"more than one line for one bad value:\n{message}"
    expected = _field_name(path if not isinstance(bad, tuple) else path)
    if path == ("feeds",) and isinstance(bad, list) and len(bad) == 2:
        expected = "feeds"
    assert expected in message or expected.replace(".0.", ".") in message, message
    assert str(config) in message


ENV_CASES = [
    ("USCHINA_DIGEST_FETCH__MAX_BYTES", "ten", "fetch.max_bytes"),
    ("USCHINA_DIGEST_FETCH__CONNECT_TIMEOUT", "-1", "fetch.connect_timeout"),
    ("USCHINA_DIGEST_DIGEST__PERIOD", "hourly", "digest.period"),
    ("USCHINA_DIGEST_SMTP_PORT", "99999", "email.smtp_port"),
    ("USCHINA_DIGEST_SMTP_SECURITY", "tls13", "email.security"),
    ("USCHINA_DIGEST_SCHEDULE__TIMEZONE", "Nowhere/Land", "schedule.timezone"),
]


@pytest.mark.parametrize("var, value, field", ENV_CASES)
def test_invalid_environment_overrides_name_the_field(tmp_path: Path, var: str, value: str, field: str) -> None:
    config = make_project(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_settings_with(config, {var: value})
    assert field in str(err.value) and "\n" not in str(err.value)


def test_the_cli_prints_one_line_for_a_bad_value(tmp_path: Path) -> None:
    config = make_project(tmp_path, fetch={"max_bytes": "ten"})
    result = CliRunner().invoke(main, ["ingest", "--config", str(config)])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "fetch.max_bytes" in lines[0] and "Traceback" not in result.output, result.output


def test_a_yaml_syntax_error_is_one_line_with_its_position(tmp_path: Path) -> None:
    config = make_project(tmp_path)
    config.write_text("digest: {period: daily\nfetch: [\n")
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    assert "\n" not in str(err.value) and "line " in str(err.value)


# ---------------------------------------------------------------- secrets

SECRET = "s3cr3t-Canary-Pa55w0rd-7d1e"


def _secret_forms() -> list[bytes]:
    plain = SECRET.encode()
    return [plain, base64.b64encode(plain), base64.b64encode(b"\0user\0" + plain), SECRET[::-1].encode()]


def assert_no_secret(blob: bytes | str, where: str) -> None:
    data = blob.encode("utf-8", "replace") if isinstance(blob, str) else blob
    for form in _secret_forms():
        assert form not in data, f"the SMTP password ({form[:12]!r}…) appears in {where}"


def test_a_password_in_the_config_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    config = make_project(tmp_path, email={"password": SECRET})
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    assert "email.password" in str(err.value)
    assert_no_secret(str(err.value), "the config error")


def test_the_password_never_shows_in_settings_errors_logs_reports_or_files(tmp_path: Path, caplog) -> None:
    from aiosmtpd.smtp import AuthResult

    from tests.deliver.smtp_server import SmtpServer

    seen: list[bytes] = []

    def refuse(server, session, envelope, mechanism, data):  # a server that refuses the login
        seen.append(getattr(data, "password", b""))
        return AuthResult(success=False, handled=False)

    smtp = SmtpServer(authenticator=refuse, auth_require_tls=False).start()
    config = make_project(
        tmp_path,
        seeds=True,
        email={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "security": "none",
            "username": "digest",
            "allow_plaintext_auth": True,
            "retries": 2,
            "retry_backoff": 0.05,
            "timeout": 5,
            "recipients": [{"address": "a@example.org"}],
        },
    )
    env = {"USCHINA_DIGEST_SMTP_PASSWORD": SECRET}
    settings = load_settings_with(config, env)
    assert settings.email.password.get_secret_value() == SECRET
    for text in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.email)):
        assert_no_secret(text, "the settings' text forms")
    with pytest.raises(ConfigError) as err:  # an invalid value elsewhere must not echo the password
        load_settings_with(config, {**env, "USCHINA_DIGEST_SMTP_PORT": "x"})
    assert_no_secret(str(err.value), "a config error")

    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    report = tmp_path / "report.json"
    outputs = [runner.invoke(main, ["--help"]).output]
    for args in (
        ["ingest", "--config", str(config), "--report", str(report)],
        ["run", "--config", str(config), "--send"],
        ["digest", "--config", str(config), "--send"],
        ["export", "--config", str(config)],
    ):
        result = runner.invoke(main, args, env={**env, "PREFECT_LOGGING_LEVEL": "DEBUG"})
        outputs.append(result.output + (repr(result.exception) if result.exception else ""))
    smtp.stop()
    assert seen and seen[0] == SECRET.encode(), "the login was never tried, so this proves nothing"
    assert "535" in outputs[2] or "uthentication" in outputs[2], outputs[2][-500:]
    for n, out in enumerate(outputs):
        assert_no_secret(out, f"CLI output #{n}")
    assert "SMTP" in caplog.text or "smtp" in caplog.text, "no delivery log was captured, so it proves nothing"
    assert_no_secret(caplog.text, "the log")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert_no_secret(path.read_bytes(), f"file {path.relative_to(tmp_path)}")

"""STARTTLS, implicit TLS and AUTH against a real aiosmtpd, with a CA made in the test (trustme).

Also: the password reaches the server and nothing else — not the outbox, the log, the delivery
rows, the result, or an exception.
"""

from __future__ import annotations

import logging
import ssl

import pytest
import trustme
from aiosmtpd.smtp import AuthResult
from newsroom import UNTIL
from pydantic import SecretStr
from smtp_server import SmtpServer, configure

from flows.config import load_settings
from tests.conftest import load_settings_with
from flows.deliver.smtp import DeliveryError, SmtpConfig, SmtpTransport
from flows.pipeline import DigestOptions, run_digest, store_for
from flows.store.deliveries import deliveries_for

PASSWORD = "s3cret-Pa55-word"


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def server_context(ca) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


def ca_file(ca, tmp_path):
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        user, password = auth_data.login.decode(), auth_data.password.decode()
        self.seen.append((user, password))
        ok = (user, password) == ("digest", PASSWORD)
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


def test_starttls_with_login(newsroom, ca, tmp_path):
    logins = Logins()
    server = SmtpServer(
        tls_context=server_context(ca), require_starttls=True, authenticator=logins, auth_require_tls=True
    ).start()
    try:
        settings = configure(
            newsroom,
            server,
            security="starttls",
            username="digest",
            password=SecretStr(PASSWORD),
            ca_file=ca_file(ca, tmp_path),
            recipients=[{"address": "all@example.org"}],
        )
        result = run_digest(settings, DigestOptions(until=UNTIL, send=True))
        assert [d["status"] for d in result.deliveries] == ["sent"]
        assert logins.seen == [("digest", PASSWORD)]
        assert len(server.inbox.messages) == 1
    finally:
        server.stop()


def test_implicit_ssl(newsroom, ca, tmp_path):
    server = SmtpServer(ssl_context=server_context(ca)).start()
    try:
        settings = configure(
            newsroom, server, security="ssl", ca_file=ca_file(ca, tmp_path), recipients=[{"address": "all@example.org"}]
        )
        result = run_digest(settings, DigestOptions(until=UNTIL, send=True))
        assert [d["status"] for d in result.deliveries] == ["sent"]
        assert len(server.inbox.messages) == 1
    finally:
        server.stop()


def test_untrusted_certificate_is_refused_and_not_retried(ca, tmp_path):
    server = SmtpServer(ssl_context=server_context(ca)).start()
    try:
        slept: list[float] = []
        transport = SmtpTransport(
            SmtpConfig("127.0.0.1", server.port, "ssl", timeout=5, retries=3, backoff=1), sleep=slept.append
        )
        with pytest.raises(DeliveryError) as err:
            transport.send("a@example.org", "b@example.org", b"Subject: x\r\n\r\nx\r\n")
        assert err.value.permanent and "CERTIFICATE_VERIFY_FAILED" in str(err.value)
        assert slept == [] and server.inbox.messages == []
    finally:
        server.stop()


def test_wrong_password_fails_without_leaking_it(newsroom, caplog, tmp_path):
    logins = Logins()
    server = SmtpServer(authenticator=logins, auth_require_tls=False).start()
    wrong = "n0t-the-Right-one"
    try:
        # The password comes from the environment, as it must (a config file may not hold one).
        cfg = newsroom.config_path
        settings = load_settings_with(
            cfg,
            {
                "USCHINA_DIGEST_SMTP_HOST": "127.0.0.1",
                "USCHINA_DIGEST_SMTP_PORT": str(server.port),
                "USCHINA_DIGEST_SMTP_SECURITY": "none",
                "USCHINA_DIGEST_SMTP_USERNAME": "digest",
                "USCHINA_DIGEST_SMTP_PASSWORD": wrong,
                "USCHINA_DIGEST_EMAIL__RETRY_BACKOFF": "0.01",
                "USCHINA_DIGEST_EMAIL__ALLOW_PLAINTEXT_AUTH": "true",
            },
        )
        assert "n0t-the" not in repr(settings) and "n0t-the" not in str(settings.model_dump())
        with caplog.at_level(logging.DEBUG):
            result = run_digest(settings, DigestOptions(until=UNTIL, send=True))
        assert logins.seen == [("digest", wrong)]  # one try: a 535 is permanent
        assert [d["status"] for d in result.deliveries] == ["failed"]
        assert "SMTPAuthenticationError" in result.deliveries[0]["error"]
        eml = next((settings.digests_dir / "outbox").glob("*.eml")).read_bytes()
        rows = deliveries_for(store_for(settings), result.id)
        everything = "\n".join(
            [caplog.text, str(result.to_dict()), repr(rows[0].last_error), eml.decode("utf-8", "replace")]
        )
        assert wrong not in everything
        import base64

        assert base64.b64encode(wrong.encode()).decode() not in everything
    finally:
        server.stop()


def test_a_login_in_clear_text_is_refused_unless_allowed(newsroom):
    """security: none with a username would send the password unencrypted: a one-line config
    error, and the server sees no login; `allow_plaintext_auth: true` (a local relay) lets it."""
    from flows.config import ConfigError

    logins = Logins()
    server = SmtpServer(authenticator=logins, auth_require_tls=False).start()
    try:
        env = {
            "USCHINA_DIGEST_SMTP_HOST": "127.0.0.1",
            "USCHINA_DIGEST_SMTP_PORT": str(server.port),
            "USCHINA_DIGEST_SMTP_SECURITY": "none",
            "USCHINA_DIGEST_SMTP_USERNAME": "digest",
            "USCHINA_DIGEST_SMTP_PASSWORD": PASSWORD,
            "USCHINA_DIGEST_EMAIL__RECIPIENTS": '[{"address": "all@example.org"}]',
        }
        with pytest.raises(ConfigError) as err:
            load_settings_with(newsroom.config_path, env)
        message = str(err.value)
        assert "\n" not in message and "email: security is none and a username is set" in message
        assert "allow_plaintext_auth: true" in message and PASSWORD not in message
        assert logins.seen == [] and server.inbox.messages == []

        settings = load_settings_with(
            newsroom.config_path, {**env, "USCHINA_DIGEST_EMAIL__ALLOW_PLAINTEXT_AUTH": "true"}
        )
        result = run_digest(settings, DigestOptions(until=UNTIL, send=True))
        assert [d["status"] for d in result.deliveries] == ["sent"]
        assert logins.seen == [("digest", PASSWORD)] and len(server.inbox.messages) == 1
    finally:
        server.stop()


def test_password_in_a_config_file_is_refused(project):
    from flows.config import ConfigError

    cfg = project / "config" / "pipeline.yaml"
    cfg.write_text(cfg.read_text().replace("smtp_host: null", "smtp_host: null\n  password: hunter2"))
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert "hunter2" not in str(err.value) and "USCHINA_DIGEST_SMTP_PASSWORD" in str(err.value)

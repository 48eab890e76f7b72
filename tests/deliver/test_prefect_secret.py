"""The SMTP password from a Prefect Secret block, sent through the digest flow under Prefect."""

from __future__ import annotations

import asyncio

import pytest
from aiosmtpd.smtp import AuthResult
from newsroom import UNTIL
from smtp_server import SmtpServer, configure

pytestmark = pytest.mark.slow

SECRET = "bl0ck-Secret-value"


def test_password_from_secret_block_in_the_digest_flow(prefect_server, newsroom, monkeypatch):
    from prefect.blocks.system import Secret

    from flows.config import ConfigError
    from flows.pipeline import smtp_password
    from flows.service.flows import digest

    Secret(value=SECRET).save("uschina-smtp-password", overwrite=True)
    seen = []

    def auth(server, session, envelope, mechanism, data):
        seen.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password.decode() == SECRET, handled=False)

    server = SmtpServer(authenticator=auth, auth_require_tls=False).start()
    try:
        settings = configure(
            newsroom,
            server,
            username="digest",
            password_block="uschina-smtp-password",
            recipients=[{"address": "all@example.org"}],
            allow_plaintext_auth=True,
        )
        # The flow loads its settings from the file; point it at this server through the environment.
        monkeypatch.setenv("USCHINA_DIGEST_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("USCHINA_DIGEST_SMTP_PORT", str(server.port))
        monkeypatch.setenv("USCHINA_DIGEST_SMTP_SECURITY", "none")
        monkeypatch.setenv("USCHINA_DIGEST_SMTP_USERNAME", "digest")
        monkeypatch.setenv("USCHINA_DIGEST_EMAIL__ALLOW_PLAINTEXT_AUTH", "true")  # a loopback relay
        monkeypatch.setenv("USCHINA_DIGEST_EMAIL__PASSWORD_BLOCK", "uschina-smtp-password")
        monkeypatch.setenv("USCHINA_DIGEST_EMAIL__RECIPIENTS", '[{"address": "all@example.org"}]')
        state = asyncio.run(digest(config_path=str(settings.config_path), until=UNTIL, send=True, return_state=True))
        assert state.is_completed()
        result = state.result()
        assert [d["status"] for d in result["deliveries"]] == ["sent"]
        assert seen == [("digest", SECRET)] and len(server.inbox.messages) == 1
        assert SECRET not in str(result)

        settings.email.password_block = "no-such-block"
        with pytest.raises(ConfigError, match="no Prefect Secret block named 'no-such-block'"):
            smtp_password(settings)
    finally:
        server.stop()

"""Secrets from Prefect Secret blocks. Prefect stays at this edge: imported only when configured."""

from __future__ import annotations

from pydantic import SecretStr

from flows.config import ConfigError


def load_secret(block_name: str) -> SecretStr:
    """The value of a Prefect Secret block, wrapped so it never prints."""
    from prefect.blocks.system import Secret

    try:
        block = Secret.load(block_name)
    except (ValueError, RuntimeError) as e:
        raise ConfigError(
            f"email.password_block: no Prefect Secret block named {block_name!r} ({type(e).__name__})"
        ) from None
    value = block.get()
    return SecretStr(value if isinstance(value, str) else str(value))

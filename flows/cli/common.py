"""What every `uschina-digest` command shares: --config, --quiet, and one-line errors.

Kept apart from `flows/cli/__init__.py` so the command modules (`feeds`, `serve`, `classify`, …)
can use it without importing the command group that registers them.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import Any, Callable

import click

from flows.config import ConfigError, load_settings


def setup_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def config_problem(e: ConfigError) -> str:
    """One bad value, one line; several, one line each under a heading."""
    text = str(e)
    return f"invalid configuration: {text}" if "\n" not in text else f"invalid configuration:\n{text}"


def common(fn: Callable) -> Callable:
    """--config and --quiet on every command; config errors become one clear line, exit status 1."""

    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="USCHINA_DIGEST_CONFIG",
        help="Pipeline config file (default: config/pipeline.yaml).",
    )
    @click.option("--quiet", "-q", is_flag=True, help="Print only results and errors, no progress.")
    @functools.wraps(fn)
    def wrapper(config_path: Path | None, quiet: bool, **kwargs: Any) -> Any:
        setup_logging(quiet)
        try:
            settings = load_settings(config_path)
        except ConfigError as e:
            raise click.ClickException(config_problem(e)) from None
        from flows.locks.guard import LeaseBusy
        from flows.store import StoreUnavailable

        try:
            return fn(settings=settings, quiet=quiet, **kwargs)
        except ConfigError as e:
            raise click.ClickException(config_problem(e)) from None
        except (LeaseBusy, StoreUnavailable) as e:  # busy, locked or down through every retry
            raise click.ClickException(str(e)) from None

    return wrapper

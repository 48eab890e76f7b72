"""`uschina-digest serve`: run the pipeline as a service against a Prefect server.

Registered on the CLI group in `flows/cli/__init__.py` with `main.add_command(serve)`.
"""

from __future__ import annotations

import click

from flows.cli.common import common
from flows.config import Settings


def prefect_api_url() -> str | None:
    """The Prefect API this process talks to: `PREFECT_API_URL` or the active Prefect profile's."""
    import flows.service.deployments  # noqa: F401  (sets Prefect's logging environment before Prefect loads)
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


@click.command()
@common
@click.option(
    "--limit", type=click.IntRange(1), default=None, help="Run at most this many flow runs at once (default: no limit)."
)
def serve(settings: Settings, quiet: bool, limit: int | None) -> None:
    """Serve the scheduled deployments: ingest/scheduled, digest/daily, digest/weekly.

    Registers them with the Prefect server at PREFECT_API_URL, schedules them from the `schedule`
    section of the config (in its time zone), and runs their flow runs — scheduled ones and any
    started from the UI — until interrupted. Restart it after editing the config to change the
    schedules. `make serve` starts a local Prefect server first when none is configured.
    """
    from flows.service.deployments import serve as serve_deployments

    if not prefect_api_url():
        raise click.ClickException(
            "no Prefect server configured: set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api after "
            "`prefect server start`), or run `make serve` to start a local one"
        )
    serve_deployments(settings, limit=limit)


if __name__ == "__main__":
    serve()

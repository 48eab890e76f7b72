"""One real flow run under a Prefect test server: the same pipeline, recorded as flow and task runs."""

import asyncio

import pytest

pytestmark = pytest.mark.slow


def test_pipeline_flow_runs_under_prefect(prefect_server, project):
    from prefect.client.orchestration import get_client

    from flows.service.flows import run_all

    state = asyncio.run(run_all(config_path=str(project / "config" / "pipeline.yaml"), return_state=True))
    assert state.is_completed()
    result = state.result()
    assert result["ingest"]["items_new"] == 5
    assert result["digest"]["n_stories"] == 4  # seeds 000 and 002 are one story
    assert (project / "digests" / f"{result['digest']['id']}.html").exists()

    async def runs():
        async with get_client() as client:
            flows = {f.id: f.name for f in await client.read_flows()}
            flow_runs = await client.read_flow_runs()
            task_runs = await client.read_task_runs()
            return {flows[fr.flow_id] for fr in flow_runs if fr.state.is_completed()}, task_runs

    completed_flows, task_runs = asyncio.run(runs())
    assert {"ingest", "digest", "pipeline"} <= completed_flows
    task_names = {tr.name.rsplit("-", 1)[0] for tr in task_runs}
    assert {"ingest-seeds", "classify-pending", "build-digest"} <= task_names
    assert all(tr.state.is_completed() for tr in task_runs)


def test_a_digest_run_that_could_not_send_ends_failed_with_the_reason(prefect_server, project):
    """The digest is written and its message kept in the outbox, but the run is not 'Completed':
    in the UI a failed send must look like a failure."""
    import socket

    from tests.conftest import write_config

    from flows.pipeline import UndeliveredDigest
    from flows.service.flows import digest

    with socket.socket() as probe:  # a loopback port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    config = write_config(
        project,
        email={
            "smtp_host": "127.0.0.1",
            "smtp_port": dead_port,
            "security": "none",
            "from_address": "digest@example.org",
            "retries": 1,
            "retry_backoff": 0.01,
            "timeout": 5,
            "recipients": [{"address": "desk@example.org"}],
        },
    )
    state = asyncio.run(digest(config_path=str(config), send=True, return_state=True))
    assert state.is_failed()
    assert "1 message(s) not sent" in state.message and "desk@example.org" in state.message
    with pytest.raises(UndeliveredDigest) as raised:
        state.result()
    result = raised.value.result
    assert [d["status"] for d in result["deliveries"]] == ["failed"]
    assert (project / "digests" / f"{result['id']}.html").exists()
    assert len(list((project / "digests" / "outbox").glob("*.eml"))) == 1

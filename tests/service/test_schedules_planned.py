"""The Prefect server's scheduler plans the served deployments' runs at the configured local times,
and plans them again when a schedule changes.

Its own `prefect server start`, on SQLite as under `make serve`, with the deployments of a config
applied to it (nothing serves them, so no planned run executes). The session's server (harness.py)
runs with its scheduler off, so that no planned ingest fires in the middle of the other tests.
This test caught SQLAlchemy 2.1 breaking Prefect 3.8's scheduler: no run was ever planned."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from tests.conftest import write_config
from tests.service.harness import PYTHON, ROOT, _clean_env, free_port, stop_process, wait_for

pytestmark = pytest.mark.slow

SCHEDULE = {
    "timezone": "Asia/Shanghai",
    "ingest_interval_minutes": 720,
    "daily_cron": "10 6 * * *",
    "weekly_cron": "20 6 * * 5",
}
APPLY = """
import asyncio, sys
from flows.config import load_settings
from flows.service.deployments import deployments
built = deployments(load_settings(sys.argv[1]))
async def apply():
    for deployment in built:
        await deployment.apply()
asyncio.run(apply())
"""


def test_the_scheduler_plans_each_served_schedule(project, tmp_path):
    config = write_config(project, schedule=SCHEDULE)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **_clean_env(),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": api_url,
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [str(Path(PYTHON).parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            http = httpx.Client(base_url=api_url, timeout=30)

            def healthy() -> bool:
                assert server.poll() is None, log_path.read_text()[-3000:]
                try:
                    return http.get("/health").status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(healthy, 120, "the Prefect server", interval=0.5)
            subprocess.run(
                [PYTHON, "-c", APPLY, str(config)], env=env, cwd=ROOT, check=True, capture_output=True, timeout=120
            )
            flows = {f["id"]: f["name"] for f in http.post("/flows/filter", json={}).json()}
            deployments = {
                f"{flows[d['flow_id']]}/{d['name']}": d["id"] for d in http.post("/deployments/filter", json={}).json()
            }

            def planned(name: str) -> set[tuple[int, int, int]]:
                runs = http.post(
                    "/flow_runs/filter",
                    json={
                        "flow_runs": {
                            "deployment_id": {"any_": [deployments[name]]},
                            "state": {"type": {"any_": ["SCHEDULED"]}},
                        }
                    },
                ).json()
                zone = ZoneInfo(SCHEDULE["timezone"])
                return {
                    (t.isoweekday(), t.hour, t.minute)
                    for t in (datetime.fromisoformat(r["expected_start_time"]).astimezone(zone) for r in runs)
                }

            names = ("ingest/scheduled", "digest/daily", "digest/weekly")
            wait_for(lambda: all(planned(name) for name in names), 90, "the scheduler to plan runs")
            assert {(h, m) for _d, h, m in planned("ingest/scheduled")} <= {(0, 0), (12, 0)}  # every 12 h from midnight
            assert {(h, m) for _d, h, m in planned("digest/daily")} == {(6, 10)}
            assert planned("digest/weekly") == {(5, 6, 20)}  # Fridays 06:20
            assert not planned("ingest-shard/served")  # no schedule

            # A changed schedule (serve registers them at every start): runs planned from the old one
            # are replaced by the new one's.
            write_config(project, schedule={**SCHEDULE, "daily_cron": "40 7 * * *"})
            subprocess.run(
                [PYTHON, "-c", APPLY, str(config)], env=env, cwd=ROOT, check=True, capture_output=True, timeout=120
            )
            wait_for(
                lambda: {(h, m) for _d, h, m in planned("digest/daily")} == {(7, 40)},
                90,
                "only 07:40 Asia/Shanghai daily runs to be planned",
            )
        finally:
            stop_process(server)
    assert "Traceback" not in log_path.read_text(), log_path.read_text()[-3000:]

"""Scale-out: `prefect.yaml` deployed to a process work pool, two workers sharing the runs of a
fanned-out ingest (two workers on one machine stand in for two machines)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from tests.service.harness import PYTHON, ROOT, Service, stop_process, wait_for

pytestmark = pytest.mark.slow

PREFECT = str(Path(PYTHON).with_name("prefect"))


def test_prefect_yaml_deploys_to_a_process_pool_whose_workers_run_the_shards(service: Service, tmp_path, feed_server):
    env = {**service.server.env, "USCHINA_DIGEST_CONFIG": str(service.config), "PREFECT_WORKER_QUERY_SECONDS": "1"}
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    by_name = {d["name"]: d for d in spec["deployments"]}
    pool = by_name["scheduled"]["work_pool"]["name"]
    # the scheduled ingest on the pool fans out to the pool's shard deployment, which the file declares
    assert by_name["scheduled"]["parameters"]["shard_deployment"] == "ingest-shard/pool"
    assert by_name["pool"]["entrypoint"] == "flows.service.flows.ingest_shard"
    assert all(d["work_pool"]["name"] == pool for d in spec["deployments"])

    subprocess.run(
        [PREFECT, "work-pool", "create", pool, "--type", "process"], env=env, check=True, capture_output=True, cwd=ROOT
    )
    logs = [(tmp_path / f"worker-{n}.log").open("w") for n in (1, 2)]
    workers = [
        subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", pool, "--name", f"worker-{n}"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for n, log in enumerate(logs, 1)
    ]
    try:
        # Only the shard deployment: the others share their names with the served deployments.
        deploy = subprocess.run(
            [PREFECT, "--no-prompt", "deploy", "-n", "pool"], env=env, cwd=ROOT, capture_output=True, text=True
        )
        assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
        api = service.api
        dep = api.deployment("ingest-shard/pool")
        assert dep["work_pool_name"] == pool and dep["entrypoint"] == "flows.service.flows.ingest_shard"
        assert dep["pull_steps"] == [{"prefect.deployments.steps.set_working_directory": {"directory": "."}}]
        assert dep["enforce_parameter_schema"] is True

        wait_for(
            lambda: (
                len(
                    [
                        w
                        for w in api.http.post(f"/work_pools/{pool}/workers/filter", json={}).json()
                        if w["status"] == "ONLINE"
                    ]
                )
                == 2
            ),
            90,
            "both workers to come online",
            interval=0.5,
        )
        # An ingest (served here) whose shards go to the pool: the workers take them.
        response = api.create_run(
            "ingest/scheduled",
            {"sources": "feeds", "force": True, "shards": 2, "shard_deployment": "ingest-shard/pool"},
        )
        assert response.status_code == 201, response.text
        run = api.wait(response.json()["id"], timeout=240)
        assert run["state"]["type"] == "COMPLETED", (run["state"], (tmp_path / "worker-1.log").read_text()[-3000:])
        shards = api.runs(deployment_id={"any_": [dep["id"]]})
        assert len(shards) == 2 and all(
            r["state"]["type"] == "COMPLETED" and r["work_pool_name"] == pool for r in shards
        )
        print(f"\ningest with shards on the pool: {api.timeline(run['id'])}")
        for shard in shards:
            print(f"  {shard['name']}: {api.timeline(shard['id'])}")
        rows = {r["source"]: r for r in json.loads(api.artifacts(run["id"])["feed-health"]["data"])}
        # both shards reported back through their artifacts (a feed ingested earlier in the session
        # comes back unchanged: not_modified)
        assert set(rows) == {"Local A", "Local B"}, rows
        assert all(
            r["status"] == "not_modified" or (r["status"] == "ok" and r["new"] + r["seen"] == 6) for r in rows.values()
        ), rows
    finally:
        for worker in workers:
            stop_process(worker)
        for log in logs:
            log.close()

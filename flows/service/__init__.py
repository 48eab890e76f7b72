"""The Prefect edge: flows, deployments, run artifacts, secrets and the local server.

Prefect is imported here (and by the `serve` command) only; each flow is a thin wrapper of a plain
function in `flows.pipeline`, so every step also runs, and is tested, without Prefect.
"""

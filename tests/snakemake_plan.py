"""Plan the repository's workflow as ``snakemake -n`` does and print the jobs as JSON.

Run as a script (a fresh process: Snakemake changes directory and holds global state),
or through ``dry_run`` from a test:
``python tests/snakemake_plan.py WORKDIR [--configfile F ...] [--default-resources R ...]
[--target T ...]``. Prints ``{"config": ..., "rules": {name: {"declared": [...],
"norun": bool}}, "jobs": [{"rule", "wildcards", "threads", "params", "resources":
{"1": {...}, "2": {...}, "3": {...}}}]}`` where resources are each attempt's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import (
    ConfigSettings,
    DAGSettings,
    OutputSettings,
    ResourceSettings,
)

REPO = Path(__file__).resolve().parent.parent
KEYS = ("mem_mb", "runtime", "disk_mb")
PARAMS = {"train_model": "train", "rotation_point": "rotation"}


def plan(workdir: Path, configfiles: list[Path], defaults: list[str], targets: list[str]) -> dict:
    """The planned jobs of a dry run, with each attempt's resources."""
    default = dict(item.split("=", 1) for item in defaults)
    resources = ResourceSettings(
        cores=2, default_resources={k: int(v) for k, v in default.items()} or None
    )
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow_api = api.workflow(
            resource_settings=resources,
            config_settings=ConfigSettings(configfiles=configfiles),
            snakefile=REPO / "Snakefile",
            workdir=workdir,
        )
        dag_api = workflow_api.dag(DAGSettings(targets=set(targets)) if targets else None)
        dag_api.execute_workflow(executor="dryrun")
        workflow = workflow_api._workflow
        jobs = []
        for job in workflow.dag.jobs:
            per_attempt = {}
            for attempt in (1, 2, 3):
                job.attempt = attempt
                held = dict(job.resources)
                per_attempt[attempt] = {k: held[k] for k in KEYS if k in held}
            name = PARAMS.get(job.rule.name)
            jobs.append(
                {
                    "rule": job.rule.name,
                    "wildcards": dict(job.wildcards_dict),
                    "threads": job.threads,
                    "params": getattr(job.params, name) if name else None,
                    "resources": per_attempt,
                }
            )
        rules = {
            rule.name: {"declared": sorted(rule.resources), "norun": rule.norun}
            for rule in workflow.rules
        }
        return {"config": workflow.config, "rules": rules, "jobs": jobs}


def dry_run(workdir: Path, *configs: Path, target: str | None = None) -> dict:
    """``plan`` in a fresh process (for tests): this file run as a script on the
    repository's Snakefile, its JSON read back."""
    cmd = [sys.executable, __file__, str(workdir)]
    if configs:
        cmd += ["--configfile", *map(str, configs)]
    if target:
        cmd += ["--target", target]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir)
    if done.returncode:
        raise AssertionError(f"dry run failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--configfile", type=Path, nargs="*", default=[])
    parser.add_argument("--default-resources", nargs="*", default=[])
    parser.add_argument("--target", nargs="*", default=[])
    args = parser.parse_args()
    out = plan(args.workdir, args.configfile, args.default_resources, args.target)
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()

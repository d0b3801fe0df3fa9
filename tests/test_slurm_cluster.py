"""The SLURM profile on a real SLURM cluster (issue #7).

`make test` as root on Debian/Ubuntu (CI) first starts a one-node cluster with job
accounting (`scripts/slurm/start_cluster.sh`: munged, MariaDB + slurmdbd, slurmctld,
slurmd; partition `ci`, account `gemcont`). These tests submit through
`profiles/slurm-ci`, which is `profiles/slurm` with that account and partition filled in
(the first test checks that nothing else differs), and read the outcome of every job back
from SLURM's own accounting (`sacct`). The last test (issue 15) has SLURM kill the
workflow's training job at its time limit and checks that the retry resumes it. Without
a cluster the cluster tests are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from .conftest import REPO
from .test_train_resume_workflow import (
    CHECKPOINT,
    EPOCH_DONE,
    EPOCHS,
    TINY_TRAINING,
    TRAIN_LOG,
    assert_resumed,
    assert_same_weights,
    copy_of,
    inputs,  # noqa: F401 (a fixture used below)
    start_training,
    weights,
)

SLURM_SCRIPTS = REPO / "scripts" / "slurm"
PROFILE = REPO / "profiles" / "slurm-ci"
RETRY_SNAKEFILE = REPO / "tests" / "slurm_retry" / "Snakefile"
ACCOUNT, PARTITION = "gemcont", "ci"
# what profiles/slurm-ci adds to profiles/slurm (see the comments there)
CI_ONLY = {
    "max-threads": 1,
    "slurm-status-command": "sacct",
    "slurm-init-seconds-before-status-checks": 2,
    "seconds-between-status-checks": 5,
}
# The tiny configuration of tests/test_workflow.py, run up to the first embeddings: nine
# jobs from the simulated cohort to training and export (the GPU rules) in about 2 min.
TINY_RUN = {
    **TINY_TRAINING,
    "train": {"epochs": 2, "batch_size": 64, "warmup_epochs": 1, "width": 8},
}
TARGET = "results/embeddings/gemcont/split_0/embeddings.tsv.gz"
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: \S*?/rule_(\w+?)/")
SACCT_FIELDS = "JobIDRaw,JobName,Comment,Account,Partition,State,ExitCode,Timelimit,ReqMem"
SACCT_SHOW = "JobID,Comment%40,Account,Partition,AllocCPUS,ReqMem,Timelimit,Elapsed,State,ExitCode"


def test_slurm_ci_profile_is_profiles_slurm_with_the_cluster_filled_in():
    base = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    filled = yaml.safe_load(
        (REPO / "profiles" / "slurm" / "config.yaml")
        .read_text()
        .replace("<account>", ACCOUNT)
        .replace("<cpu-partition>", PARTITION)
        .replace("<gpu-partition>", PARTITION)
    )
    gpu_rules = [rule for rule, res in base["set-resources"].items() if "gpu" in res]
    assert gpu_rules, "profiles/slurm no longer asks for GPUs: update profiles/slurm-ci"
    for rule in gpu_rules:
        filled["set-resources"][rule]["gpu"] = 0
    ci = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert ci == {**filled, **CI_ONLY}


@pytest.fixture(scope="module")
def cluster() -> None:
    """Skip (or, under CI=true, fail) unless a SLURM cluster with accounting answers."""
    ready = subprocess.run(
        [str(SLURM_SCRIPTS / "cluster_ready.sh"), PARTITION, ACCOUNT],
        capture_output=True,
        text=True,
    )
    if ready.returncode != 0:
        reason = (
            f"no SLURM cluster to submit to ({ready.stderr.strip()}); start one with "
            "`sudo scripts/slurm/start_cluster.sh`"
        )
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI is set, so the SLURM tests must run: {reason}", pytrace=False)
        pytest.skip(reason)


def snakemake_slurm_cmd(workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile"):
    """`snakemake --profile profiles/slurm-ci`, to run from the repository as a user would."""
    return [
        *(sys.executable, "-m", "snakemake", "--snakefile", str(snakefile)),
        *("--profile", str(PROFILE), "--directory", str(workdir), *args),
    ]


def snakemake_slurm(workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile"):
    result = subprocess.run(
        snakemake_slurm_cmd(workdir, *args, snakefile=snakefile),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return result, result.stdout + result.stderr


@pytest.fixture(scope="module")
def retry_run(cluster, tmp_path_factory):
    """tests/slurm_retry/Snakefile through the profile, started in the background so that
    the minute its `slow` job waits for SLURM's time limit overlaps the workflow test."""
    workdir = tmp_path_factory.mktemp("slurm_retry")
    with open(workdir / "snakemake.log", "w") as log:
        run = subprocess.Popen(
            snakemake_slurm_cmd(workdir, snakefile=RETRY_SNAKEFILE),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    yield workdir, run
    if run.poll() is None:  # the retry test was not selected: cancel (scancel) its jobs
        run.terminate()
        run.wait(timeout=60)


def job_stats(log: str) -> Counter:
    """The rule counts of the first `Job stats:` table Snakemake prints."""
    lines = log[log.index("Job stats:") :].splitlines()[3:]
    counts = Counter()
    for line in lines:
        rule, count = line.split()
        if rule == "total":
            return counts
        counts[rule] = int(count)
    raise AssertionError("no total in the Job stats table")


def sacct(submitted: list[tuple[str, str]]) -> list[dict[str, str]]:
    """SLURM's accounting record of each submitted job, in submission order."""
    ids = ",".join(job_id for job_id, _ in submitted)
    out = subprocess.run(
        ["sacct", "-X", "-P", "-n", "-j", ids, "-o", SACCT_FIELDS],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fields = SACCT_FIELDS.split(",")
    records = [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]
    rows = {row["JobIDRaw"]: row for row in records}
    assert set(rows) == {job_id for job_id, _ in submitted}, out
    return [rows[job_id] for job_id, _ in submitted]


def show_cluster(capsys, submitted: list[tuple[str, str]]) -> None:
    """Print sacct for the jobs and squeue to the test log (shown even when passing)."""
    ids = ",".join(job_id for job_id, _ in submitted)
    sacct_out = subprocess.run(
        ["sacct", "-X", "-j", ids, "-o", SACCT_SHOW], capture_output=True, text=True
    )
    squeue = subprocess.run(["squeue", "-a"], capture_output=True, text=True)
    with capsys.disabled():
        print(f"\n$ sacct -X -j {ids} -o {SACCT_SHOW}\n{sacct_out.stdout}{sacct_out.stderr}")
        print(f"$ squeue -a\n{squeue.stdout}{squeue.stderr}")


def test_slurm__every_workflow_job_runs_as_a_slurm_job_and_completes(
    cluster, retry_run, tmp_path, capsys
):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_RUN))
    configs = ("--configfile", str(REPO / "config" / "config.yaml"), str(config))
    result, log = snakemake_slurm(tmp_path, TARGET, *configs)
    submitted = SUBMITTED.findall(log)
    if submitted:
        show_cluster(capsys, submitted)
    assert result.returncode == 0, log[-6000:]
    assert (tmp_path / TARGET).stat().st_size > 0

    # every job of the DAG was submitted to SLURM, the GPU rules included
    expected = job_stats(log)
    assert {"simulate_genetics", "train_model", "export_embeddings"} <= set(expected)
    assert Counter(rule for _, rule in submitted) == expected, log[-6000:]
    # ... and SLURM's accounting has each as COMPLETED, charged to the profile's account
    for (_, rule), job in zip(submitted, sacct(submitted), strict=True):
        assert job["State"] == "COMPLETED", job
        assert job["ExitCode"] == "0:0", job
        assert (job["Account"], job["Partition"]) == (ACCOUNT, PARTITION), job
        assert job["Comment"].startswith(f"rule_{rule}"), job

    # the same command again finds everything done and submits nothing
    again, log = snakemake_slurm(tmp_path, TARGET, *configs)
    assert again.returncode == 0, log[-3000:]
    assert "Nothing to be done" in log
    assert not SUBMITTED.findall(log)


def test_slurm__job_killed_at_its_time_limit_is_retried_with_more_time(retry_run, capsys):
    """SLURM kills a job at its time limit (TIMEOUT); Snakemake sees it through sacct,
    resubmits it with the next attempt's resources (profile `retries`, rule `runtime`
    scaled by `attempt`, as in workflow/rules/*.smk) and goes on; finished jobs are not
    redone, and a rerun finds nothing to do.

    This uses tests/slurm_retry/Snakefile (three jobs) with the same profile instead of
    the workflow: no rule of the tiny configuration runs for the minute that is SLURM's
    smallest time limit, and making one sleep would need a test hook in the workflow.
    """
    workdir, run = retry_run
    returncode = run.wait(timeout=900)
    log = (workdir / "snakemake.log").read_text()
    submitted = SUBMITTED.findall(log)
    if submitted:
        show_cluster(capsys, submitted)
    assert returncode == 0, log[-6000:]
    jobs = sacct(submitted)
    outcome = [
        (rule, job["State"], job["Timelimit"], job["ReqMem"])
        for (_, rule), job in zip(submitted, jobs, strict=True)
    ]
    assert outcome == [
        ("first", "COMPLETED", "01:00:00", "4000M"),  # the profile's default resources
        ("slow", "TIMEOUT", "00:01:00", "200M"),
        ("slow", "COMPLETED", "00:02:00", "400M"),
        ("last", "COMPLETED", "01:00:00", "4000M"),
    ], log[-6000:]
    assert "SLURM status is: 'TIMEOUT'" in log
    assert (workdir / "last.txt").read_text() == "slow\n"

    again, log = snakemake_slurm(workdir, snakefile=RETRY_SNAKEFILE)
    assert again.returncode == 0, log[-3000:]
    assert "Nothing to be done" in log
    assert not SUBMITTED.findall(log)


def test_slurm__training_job_killed_at_its_time_limit_resumes_on_the_retry(
    cluster,
    inputs,  # noqa: F811 (the fixture imported above)
    tmp_path,
    capsys,
):
    """Issue 15: the training job of the real Snakefile (the tiny training config of
    tests/test_train_resume_workflow.py) runs as a SLURM job through the profile, is
    killed by SLURM at its time limit (TIMEOUT) after completing an epoch, and the
    profile's retry (attempt 2, `runtime` scaled by `attempt` in train.smk) resumes
    from the last completed epoch and ends with the weights of an uninterrupted run.

    SLURM's time limit is whole minutes and is checked about every 30 s, so a limit
    can only be made to expire 60-90 s into a job: once the job has logged an epoch,
    its limit is set to 1 minute (`scontrol update TimeLimit=1`) and the job's step is
    paused (`scancel --signal=STOP`) so that it is still mid-run when the limit
    comes, whatever the machine's speed; at the limit SLURM sends it SIGCONT, SIGTERM
    and, after KillWait, SIGKILL, as to any job. Meanwhile the uninterrupted
    reference trains locally. The training inputs are built locally, as in
    tests/test_train_resume_workflow.py.
    """
    workdir, config = copy_of(inputs, tmp_path / "slurm"), inputs[1]
    configs = ("--configfile", str(REPO / "config" / "config.yaml"), str(config))
    out = workdir / "snakemake.log"
    train_log = workdir / TRAIN_LOG
    with open(out, "w") as log:
        run = subprocess.Popen(
            snakemake_slurm_cmd(workdir, CHECKPOINT, *configs),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 300
        done: list[str] = []
        while not done:  # the first attempt has completed an epoch
            assert run.poll() is None, out.read_text()[-3000:]
            assert time.monotonic() < deadline, "no epoch completed in 5 min"
            time.sleep(0.05)
            done = EPOCH_DONE.findall(train_log.read_text()) if train_log.exists() else []
        (job_id, rule), *_ = SUBMITTED.findall(out.read_text())
        assert rule == "train_model"
        subprocess.run(["scancel", "--signal=STOP", job_id], check=True)
        subprocess.run(["scontrol", "update", f"JobId={job_id}", "TimeLimit=1"], check=True)
        killed_after = int(EPOCH_DONE.findall(train_log.read_text())[-1])  # paused
        assert killed_after < EPOCHS, "the job ended before it was paused"

        reference_dir = copy_of(inputs, tmp_path / "local")
        with open(tmp_path / "reference.log", "w") as log:
            reference = start_training(reference_dir, config, log)
        returncode = run.wait(timeout=600)
    finally:
        if run.poll() is None:  # cancel (scancel) its jobs
            run.terminate()
            run.wait(timeout=60)
    log = out.read_text()
    submitted = SUBMITTED.findall(log)
    show_cluster(capsys, submitted)
    assert returncode == 0, log[-6000:]
    # SLURM's accounting: the first attempt TIMEOUT at its 1-minute limit, the retry
    # with attempt 2's runtime (2 x 600 min) COMPLETED
    outcome = [
        (rule, job["State"], job["Timelimit"])
        for (_, rule), job in zip(submitted, sacct(submitted), strict=True)
    ]
    assert outcome == [
        ("train_model", "TIMEOUT", "00:01:00"),
        ("train_model", "COMPLETED", "20:00:00"),
    ], log[-6000:]
    assert "SLURM status is: 'TIMEOUT'" in log
    # the retry resumed from the state of the epochs the first attempt completed
    assert_resumed(workdir, killed_after)

    assert reference.wait(timeout=300) == 0, (tmp_path / "reference.log").read_text()[-3000:]
    reference_log = (reference_dir / TRAIN_LOG).read_text()
    assert "no saved state at" in reference_log and "resuming" not in reference_log
    assert_same_weights(workdir, weights(reference_dir))

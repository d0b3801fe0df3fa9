"""The rule log records the error that stops a script: traceback and the failing tool's
stderr tail (the workflow's regenie_step1.log was empty when REGENIE failed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import logging
from gemcont.gwas.engines.plink2 import run_tool
from gemcont.logs import to_file

to_file({log!r})
logging.getLogger("gemcont.test").info("step 1 starts")
run_tool([{tool!r}, "--out", {out!r}], {out!r} + ".log")
"""


def test_to_file__uncaught_tool_error_recorded_with_traceback_and_stderr(tmp_path: Path) -> None:
    tool = tmp_path / "regenie"
    tool.write_text('#!/bin/sh\necho "ERROR: SNP rs10 has low variance (=0)." >&2\nexit 1\n')
    tool.chmod(0o755)
    log = tmp_path / "logs" / "regenie_step1.log"
    script = SCRIPT.format(log=str(log), tool=str(tool), out=str(tmp_path / "fit"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 1
    text = log.read_text()
    assert "INFO gemcont.test: step 1 starts" in text
    assert "CRITICAL gemcont: stopped by ToolError: regenie exited with status 1" in text
    assert "ERROR: SNP rs10 has low variance (=0)." in text  # the tool's stderr tail
    assert "Traceback (most recent call last):" in text and "in run_tool" in text

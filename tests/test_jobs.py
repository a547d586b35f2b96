"""`ray job submit` against a real local head (loopback only), then that head is stopped by PID."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise TimeoutError(url)


@pytest.fixture
def ray_head(tmp_path):
    # Every port of its own: a second Ray on the machine (this session's in-process one) already holds
    # the defaults, and a dashboard agent that cannot bind leaves the job server with no agent.
    port, dashboard, agent_http, agent_grpc, metrics, runtime_env = (free_port() for _ in range(6))
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("RAY_ADDRESS", None)
    temp_dir = f"/tmp/kxj-{os.getpid()}"  # Ray's socket paths must stay short
    head = subprocess.Popen(
        [RAY, "start", "--head", "--block", f"--port={port}", "--num-cpus=2", "--node-ip-address=127.0.0.1",
         "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}", f"--dashboard-agent-listen-port={agent_http}",
         f"--dashboard-agent-grpc-port={agent_grpc}", f"--metrics-export-port={metrics}",
         f"--runtime-env-agent-port={runtime_env}", f"--temp-dir={temp_dir}", "--disable-usage-stats"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{dashboard}/api/version", 120)
        yield f"http://127.0.0.1:{dashboard}", env
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # `ray start --block` takes its processes down with it
        try:
            head.wait(10)  # a graceful stop can take 30 s+; the group is ours alone, so SIGKILL after 10
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_job_submit_trains_and_writes_outputs(ray_head, tmp_path):
    address, env = ray_head
    out = tmp_path / "job_runs"
    # The dashboard answers before its job agent registers ("No available agent"): retry that only.
    deadline = time.time() + 120
    while True:
        proc = submit(address, env, out)
        if "No available agent" not in proc.stderr or time.time() > deadline:
            break
        time.sleep(2)
    assert proc.returncode == 0 and "succeeded" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = (out / "smoke" / "summary.json").read_text()
    assert '"valid/nll_elbo"' in summary and "checkpoint_step_00000010" in summary
    assert list((out / "smoke" / "wandb").glob("offline-run-*"))


def submit(address, env, out):
    return subprocess.run(
        [RAY, "job", "submit", "--address", address, "--working-dir", str(ROOT), "--",
         "python", "jobs/train.py", "vae", "--config", "vae_smoke", "--out", str(out), "--name", "smoke",
         "--set", "engine.steps=10", "--set", "engine.eval_every=10", "--set", "engine.checkpoint_every=10"],
        env=env, capture_output=True, text=True, timeout=600,
    )

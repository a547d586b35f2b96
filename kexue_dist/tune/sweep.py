"""Ray Tune sweeps over engine runs, with ASHA early stopping and resume after an interruption.

A sweep YAML (configs/sweep_*.yaml) names a training preset, the parameters to vary (each a dotted
config key, its values, and fixed settings that go with it) and the metric ASHA compares. Every trial
is a Tune function trial that fits a ``TorchTrainer`` through the engine, with Ray Train's
``TuneReportCallback`` forwarding each checkpoint report to Tune (the Train V2 form of Tune-over-Train),
so each trial gets its own W&B run and DeepSpeed checkpoints, and a restarted trial continues from its
own latest checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from kexue_dist.config import from_dict, load_yaml, parse_overrides, resolve_preset
from kexue_dist.errors import UserError


@dataclass
class SweepParam:
    name: str  # short name in the results ("tau")
    key: str  # dotted config key ("model.tau")
    values: list[Any] = field(default_factory=list)
    fixed: dict[str, Any] = field(default_factory=dict)  # dotted key -> value, set with every value

    def validate(self, where: str) -> None:
        if not self.values:
            raise UserError(f"{where}.values: needs at least one value")


@dataclass
class SweepConfig:
    name: str = "sweep"
    base: str = "vae"  # training preset (or YAML path)
    overrides: list[str] = field(default_factory=list)  # `--set` style, applied to every trial
    params: list[SweepParam] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    metric: str = "valid/nll_elbo"
    mode: Literal["min", "max"] = "min"
    grace_period: int = 1  # ASHA: reports before a trial may be stopped
    reduction_factor: int = 2
    max_concurrent: int = 1
    trial_cpus: float = 0.5  # the trial's driver; its Train workers take scaling.cpus_per_worker each
    report: dict[str, str] = field(default_factory=dict)  # results column -> metric name
    # "module:function" called as fn(sweep, rows, out_dir) after OUT/<name>.json is written (e.g. the
    # GAN sweep's ranking and sample grids); its return value is ignored.
    post: str = ""

    def validate(self, where: str) -> None:
        if not self.params:
            raise UserError("params: a sweep needs at least one parameter")
        if self.reduction_factor < 2:
            raise UserError(f"reduction_factor: must be >= 2, got {self.reduction_factor}")


def load_sweep(preset: str, overrides: list[str] = ()) -> SweepConfig:
    from kexue_dist.config import deep_merge

    raw = deep_merge(load_yaml(resolve_preset(preset)), parse_overrides(list(overrides)))
    return from_dict(SweepConfig, raw)


def trial_overrides(sweep: SweepConfig) -> list[dict]:
    """One entry per trial: {"param", "value", "seed", "overrides": [...]}, in a stable order."""
    trials = []
    for param in sweep.params:
        for value in param.values:
            for seed in sweep.seeds:
                sets = [f"{k}={json.dumps(v)}" for k, v in param.fixed.items()]
                sets += [f"{param.key}={json.dumps(value)}", f"engine.seed={seed}"]
                trials.append({"param": param.name, "value": value, "seed": seed, "overrides": sweep.overrides + sets})
    return trials


def validate_trials(sweep: SweepConfig, out_dir: Path) -> list[dict]:
    """Build every trial's TrainConfig now, so a bad value fails (exit 2) before Ray starts."""
    from kexue_dist.engine.config import load_train_config

    trials = trial_overrides(sweep)
    for trial in trials:
        cfg = load_train_config(sweep.base, trial["overrides"])
        if sweep.metric.split("/")[0] not in ("valid", "train"):
            raise UserError(f"metric: expected a train/... or valid/... metric, got {sweep.metric!r}")
        trial["config"] = asdict(cfg)
        trial["config"]["run"]["out_dir"] = str(out_dir / "runs")
        trial["config"]["engine"]["checkpoint_every"] = cfg.engine.eval_every  # ASHA sees each eval
    return trials


def apply_cli_options(sweep: SweepConfig, seeds: int | None = None, values: dict[str, list] | None = None,
                      overrides: list[str] = ()) -> SweepConfig:
    """Command-line shortcuts: ``--seeds N`` (seeds 0..N-1), ``--families a,b`` (the values of the
    parameter named ``family``; any parameter name works through ``values``), extra ``--set``-style
    overrides for every trial. Values are validated later, with every trial's config."""
    if seeds is not None:
        if seeds < 1:
            raise UserError(f"--seeds: must be >= 1, got {seeds}")
        sweep.seeds = list(range(seeds))
    for name, chosen in (values or {}).items():
        params = [p for p in sweep.params if p.name == name]
        if not params:
            raise UserError(f"--{name}: sweep {sweep.name!r} has no parameter {name!r} (has: {', '.join(p.name for p in sweep.params)})")
        if not chosen:
            raise UserError(f"--{name}: needs at least one value")
        params[0].values = list(chosen)
    sweep.overrides = list(sweep.overrides) + list(overrides)
    return sweep


def check_gpus(trials: list[dict]) -> None:
    """A GPU sweep on a Ray without GPUs would wait for placement forever: refuse it up front."""
    import ray

    if any(t["config"]["scaling"]["gpu"] for t in trials) and ray.cluster_resources().get("GPU", 0) <= 0:
        raise UserError("scaling.gpu: the sweep asks for GPUs but this Ray cluster has none")


def trial_name(trial: dict) -> str:
    return f"{trial['param']}={trial['value']}-seed{trial['seed']}"


def _trial(config: dict, trials: dict) -> None:
    """One Tune trial = one engine fit; each checkpoint report reaches Tune via TuneReportCallback.
    A restarted trial (after an interruption) continues its own run from its latest checkpoint."""
    from ray.tune.integration.ray_train import TuneReportCallback

    from kexue_dist.engine.config import build_train_config
    from kexue_dist.engine.trainer import fit

    cfg = build_train_config(trials[config["trial"]]["config"])
    cfg.run.name = config["trial"]
    fit(cfg, callbacks=[TuneReportCallback()], continue_existing=True)


def unfinished_trials(experiment: Path, expected: int) -> int:
    """Trials not yet ended according to Tune's saved experiment state (what ``--resume`` reads).

    After Ctrl-C the in-memory ResultGrid reports interrupted trials as TERMINATED, but the saved
    state keeps them RUNNING or PENDING, and never-started trials are absent from both."""
    states = sorted(experiment.glob("experiment_state-*.json"), key=lambda p: p.stat().st_mtime)
    if not states:
        return expected
    trial_data = json.loads(states[-1].read_text())["trial_data"]
    statuses = [json.loads(t[0])["status"] if isinstance(t[0], str) else t[0]["status"] for t in trial_data]
    ended = sum(status in ("TERMINATED", "ERROR") for status in statuses)
    return expected - ended


def tune_was_interrupted(handler_before_fit) -> bool:
    """Whether Ctrl-C ended ``Tuner.fit``. Tune swaps in its own SIGINT handler for the run and puts
    the previous one back only when that handler fires; the ResultGrid itself reports interrupted
    trials as TERMINATED, so it cannot tell. Restores the previous handler either way."""
    handler_after = signal.getsignal(signal.SIGINT)
    catching = threading.current_thread() is threading.main_thread() and os.environ.get("TUNE_DISABLE_SIGINT_HANDLER", "0") == "0"
    if catching:
        signal.signal(signal.SIGINT, handler_before_fit)
    return catching and handler_after is handler_before_fit


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sweep_ray():
    """A local Ray with its dashboard on, the State API's address pinned for every Ray process.

    ASHA: a stopped trial's Train workers are released by Train's placement-group cleaner, which finds
    the State API by auto-detection. With another local Ray on the machine (a second sweep, a test
    session, another user) that detection fails ("Found multiple active Ray instances"), the cleaner
    dies, the stopped trial keeps its CPUs and the next trial waits forever. RAY_API_SERVER_ADDRESS,
    set before Ray starts, is inherited by the raylet and every worker, so the cleaner asks our
    dashboard. Attaching to a cluster (RAY_ADDRESS) or an already started Ray is left as it is."""
    import ray

    from kexue_dist.cluster import ensure_ray, quiet_ray_env

    if ray.is_initialized() or os.environ.get("RAY_ADDRESS") or os.environ.get("RAY_API_SERVER_ADDRESS"):
        return ensure_ray(include_dashboard=True)
    quiet_ray_env()
    port = _free_port()
    os.environ["RAY_API_SERVER_ADDRESS"] = f"http://127.0.0.1:{port}"
    ray.init(address="local", include_dashboard=True, dashboard_host="127.0.0.1", dashboard_port=port,
             log_to_driver=True, configure_logging=False)
    return ray


class SweepInterrupted(Exception):
    """Tune stopped before every trial ended (Ctrl-C): its state is saved for ``--resume``."""


def run_sweep(sweep: SweepConfig, out_dir: Path, resume: bool = False) -> list[dict]:
    """Run (or resume) the sweep; returns one row per trial and writes OUT/<name>.json.

    Raises SweepInterrupted (and writes no results) when interrupted before all trials ended."""
    out_dir = Path(out_dir).resolve()
    trials = validate_trials(sweep, out_dir)
    experiment = out_dir / "tune" / sweep.name
    if resume and not experiment.is_dir():
        raise UserError(f"--resume: no sweep at {experiment} to resume")
    if not resume and experiment.exists():
        raise UserError(f"{experiment} exists: pass --resume to continue it, or choose another --out")

    start_sweep_ray()
    check_gpus(trials)
    import ray.tune
    from ray.tune.schedulers import ASHAScheduler

    by_name = {trial_name(t): t for t in trials}
    trainable = ray.tune.with_resources(ray.tune.with_parameters(_trial, trials=by_name), {"cpu": sweep.trial_cpus})
    if resume:
        tuner = ray.tune.Tuner.restore(str(experiment), trainable=trainable, resume_unfinished=True, restart_errored=True)
    else:
        # One more than the number of reports: a trial that survives every rung ends by itself (its fit
        # returns, writes its summary and closes W&B) instead of being killed by ASHA at max_t.
        max_t = 1 + max(t["config"]["engine"]["steps"] // t["config"]["engine"]["eval_every"] for t in trials)
        tuner = ray.tune.Tuner(
            trainable,
            param_space={"trial": ray.tune.grid_search(list(by_name))},
            tune_config=ray.tune.TuneConfig(
                metric=sweep.metric,
                mode=sweep.mode,
                scheduler=ASHAScheduler(max_t=max_t, grace_period=sweep.grace_period, reduction_factor=sweep.reduction_factor),
                max_concurrent_trials=sweep.max_concurrent,
            ),
            run_config=ray.tune.RunConfig(name=sweep.name, storage_path=str(out_dir / "tune"), verbose=1),
        )
    start = time.perf_counter()
    handler = signal.getsignal(signal.SIGINT)
    grid = tuner.fit()
    if tune_was_interrupted(handler):
        raise SweepInterrupted(f"{unfinished_trials(experiment, len(trials))} of {len(trials)} trials unfinished")
    rows = []
    for result in grid:
        trial = by_name[result.config["trial"]]
        metrics = result.metrics or {}
        max_steps = trial["config"]["engine"]["steps"]
        row = {"param": trial["param"], "value": trial["value"], "seed": trial["seed"]}
        row.update({col: metrics.get(name) for col, name in (sweep.report or {sweep.metric: sweep.metric}).items()})
        row["steps"] = metrics.get("step")
        row["stopped_early"] = bool(metrics.get("step") and metrics["step"] < max_steps)
        row["error"] = str(result.error).splitlines()[0] if result.error else None
        rows.append(row)
    rows.sort(key=lambda r: (r["param"], r["value"], r["seed"]))
    summary = {"sweep": asdict(sweep), "seconds": time.perf_counter() - start, "trials": rows}
    (out_dir / f"{sweep.name}.json").write_text(json.dumps(rows, indent=1))
    (out_dir / f"{sweep.name}.summary.json").write_text(json.dumps(summary, indent=1, default=str))
    if sweep.post:
        import importlib

        module, func = sweep.post.split(":")
        getattr(importlib.import_module(module), func)(sweep, rows, out_dir)
    return rows

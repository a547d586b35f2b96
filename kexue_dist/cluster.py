"""Connect to Ray the way every entrypoint should.

Under `ray job submit` (RAY_ADDRESS set, or a job's runtime context) we attach to that cluster;
otherwise we start a private local Ray in-process (never attaching by accident to a head a user
left running). Temp dirs must be short paths: Ray's socket paths are limited to 107 bytes.
"""

from __future__ import annotations

import os

_QUIET_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    "RAY_TRAIN_ENABLE_STATE_ACTOR_RECONCILIATION": "0",
    "RAY_TRAIN_METRICS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_DEDUP_LOGS": "1",
    # Ray starts workers at nice 15 (to keep its own daemons responsive); here the workers ARE the job,
    # and at nice 15 any other busy process on a laptop took most of their CPU (measured on 2 busy
    # cores: 0.26 training steps/s instead of about 5).
    "RAY_worker_niceness": "0",
}


def quiet_ray_env() -> None:
    """Defaults that make local Ray start faster and talk less; explicit user settings win."""
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)


def ensure_ray(num_cpus: int | None = None, include_dashboard: bool | None = None):
    """Return a connected Ray; start a local one (``num_cpus`` cores) unless a cluster is given.

    The dashboard (loopback only) is off unless asked for (``include_dashboard=True``, or
    KEXUE_DIST_DASHBOARD=1): on 2 cores its background work cost the engine 10-20% of its step time
    (benchmarks/engine_overhead.py). Sweeps turn it on: ASHA needs its State API to release a stopped
    trial's CPUs. Without it Train V2's placement-group cleaner logs "Failed to query Ray Train
    Controller actor state" now and then; that warning is harmless."""
    quiet_ray_env()
    import ray

    if ray.is_initialized():
        return ray
    if include_dashboard is None:
        include_dashboard = os.environ.get("KEXUE_DIST_DASHBOARD", "0") == "1"
    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=True)
    else:
        ray.init(
            address="local",
            num_cpus=num_cpus,
            include_dashboard=include_dashboard,
            dashboard_host="127.0.0.1",
            log_to_driver=True,
            configure_logging=False,
        )
    return ray


def cluster_cpus() -> int:
    """CPUs the connected cluster offers (for sizing parallel search)."""
    import ray

    return int(ray.cluster_resources().get("CPU", 1))

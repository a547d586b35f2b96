"""The cluster spec validates against Ray's own schema; the Dockerfile passes hadolint."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import ray
import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_cluster_yaml_matches_ray_schema():
    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    spec = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    jsonschema.validate(spec, schema)
    nodes = spec["available_node_types"]
    assert spec["head_node_type"] in nodes
    assert any("g" in n["node_config"]["InstanceType"][:2] or "p" in n["node_config"]["InstanceType"][:1]
               for name, n in nodes.items() if name != spec["head_node_type"])  # a GPU worker type
    head_cmd = " ".join(spec["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_cmd  # no public dashboard


def test_cluster_yaml_schema_rejects_a_typo():
    """The validation is not vacuous: a misspelt top-level key fails it."""
    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    spec = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    spec["max_wokers"] = spec.pop("max_workers")
    try:
        jsonschema.validate(spec, schema)
    except jsonschema.ValidationError:
        return
    raise AssertionError("schema accepted an unknown key")


def test_dockerfile_lints_clean():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    proc = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert "torch==2.13.0" in text and "debian-packages.txt" in text

"""Config validation: every bad field is named, nested keys included; overrides parse as YAML."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kexue_dist.config import deep_merge, parse_overrides
from kexue_dist.engine.config import build_train_config, load_train_config
from kexue_dist.errors import UserError


def test_preset_loads_with_task_model_dataclass():
    cfg = load_train_config("vae_smoke", ["engine.steps=7", "model.latent=4"], scaling__workers=2)
    assert cfg.engine.steps == 7 and cfg.model.latent == 4 and cfg.scaling.workers == 2
    assert type(cfg.model).__name__ == "TextVAEConfig"


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"bogus": 1}, "bogus: unknown key"),
        ({"engine": {"stpes": 1}}, "engine.stpes: unknown key"),
        ({"model": {"hiden": 3}}, "model.hiden: unknown key"),
        ({"engine": {"steps": "many"}}, "engine.steps: expected an integer"),
        ({"engine": {"steps": 1.5}}, "engine.steps: expected an integer"),
        ({"optim": {"lr": "fast"}}, "optim.lr: expected a number"),
        ({"optim": {"name": "lamb"}}, "optim.name: must be one of adam, adamw, sgd"),
        ({"scaling": {"workers": 0}}, "scaling.workers: must be >= 1"),
        ({"scaling": {"gpu": "yes"}}, "scaling.gpu: expected true/false"),
        ({"task": "gpt"}, "task: unknown model 'gpt'"),
        ({"model": {"latent": 0}}, "model.latent: must be >= 1"),
        ({"engine": {"zero_stage": 4}}, "engine.zero_stage: must be 0, 1, 2 or 3"),
        ({"data": "kjv"}, "data: expected a mapping"),
    ],
)
def test_bad_fields_are_named(raw, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        build_train_config(raw)


def test_override_syntax_errors():
    with pytest.raises(UserError, match="expected key=value"):
        parse_overrides(["engine.steps"])
    with pytest.raises(UserError, match="empty key"):
        parse_overrides(["engine..steps=3"])


keys = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3).map(".".join)
scalars = st.one_of(st.integers(-1000, 1000), st.booleans(), st.sampled_from(["x", "adam", "1e-3x"]))


@given(st.dictionaries(keys, scalars, max_size=4))
def test_overrides_round_trip_through_yaml_scalars(pairs):
    """Every `--set k=v` lands at its dotted path with its YAML type (later keys win on conflicts)."""
    try:
        nested = parse_overrides([f"{k}={v if not isinstance(v, bool) else str(v).lower()}" for k, v in pairs.items()])
    except UserError:  # "a=1" then "a.b=2": a scalar cannot also be a section
        return
    for key, value in pairs.items():
        node = nested
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            if not isinstance(node, dict):
                assert node == value


@given(st.dictionaries(st.text(min_size=1, max_size=3), st.integers(), max_size=5),
       st.dictionaries(st.text(min_size=1, max_size=3), st.integers(), max_size=5))
def test_deep_merge_prefers_extra(base, extra):
    merged = deep_merge(base, extra)
    assert merged == {**base, **extra}

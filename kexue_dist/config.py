"""Typed configs: dataclasses filled from YAML presets plus `--set key=value` overrides.

Validation is strict and early (before Ray starts): an unknown key at any depth, a wrong type or an
out-of-range value raises :class:`UserError` naming the dotted field, e.g.
``model.hiden: unknown key (known: emb, hidden, latent)``.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml

from kexue_dist.errors import UserError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted where floats are expected."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except UserError as err:
                errors.append(str(err))
        raise UserError(errors[0] if len(errors) == 1 else f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in get_args(tp):
            raise UserError(f"{where}: must be one of {', '.join(map(str, get_args(tp)))}; got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{where}: expected a list, got {value!r}")
        (item_tp, *_) = get_args(tp) or (Any,)
        return [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise UserError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config annotation {tp!r} at {where}")


def from_dict(cls: type, data: Any, where: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and wrong types by dotted name."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{where or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        name = f"{where}.{unknown[0]}" if where else unknown[0]
        raise UserError(f"{name}: unknown key (known: {', '.join(fields)})")
    kwargs = {}
    for key, value in data.items():
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}" if where else key)
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if check is not None:
        check(where)
    return obj


def to_dict(obj: Any) -> dict:
    return dataclasses.asdict(obj)


def parse_overrides(pairs: list[str]) -> dict:
    """``["a.b=3", "c=x"]`` -> nested dict; values parsed as YAML scalars (3 -> int, true -> bool)."""
    out: dict = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"--set {pair}: expected key=value")
        key, raw = pair.split("=", 1)
        if not key or any(not part for part in key.split(".")):
            raise UserError(f"--set {pair}: empty key")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"--set {pair}: {part} is not a section")
        node[leaf] = value
    return out


def deep_merge(base: dict, extra: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve_preset(name_or_path: str) -> Path:
    """A preset name (``vae``, ``vae_smoke``) from configs/, or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise UserError(f"--config {name_or_path}: no such file")
        return path
    preset = CONFIG_DIR / f"{name_or_path}.yaml"
    if not preset.is_file():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise UserError(f"--config {name_or_path}: no such preset (known: {', '.join(known)})")
    return preset


def load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping at the top level")
    return data

# Copyright 2026 mtl_perception maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Configuration flow shared by the tools: dataclass defaults -> YAML file -> command line.

Every field of a config dataclass becomes a ``--field`` option; a YAML file may set any field.
Unknown keys and wrong types stop the command with a message that names the key and the file.
"""

from __future__ import annotations

import argparse
from dataclasses import fields, is_dataclass, MISSING, replace
import json
import os
from pathlib import Path
import types
from typing import Any, get_args, get_origin, get_type_hints, TypeVar, Union

import yaml

T = TypeVar('T')


class ConfigError(ValueError):
    """A configuration file or option is wrong; the message says which key and why."""


def _field_types(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _coerce(key: str, value: Any, annotation: Any, source: str) -> Any:
    """Check ``value`` against ``annotation`` (simple types, Optional, tuples, dicts)."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(key, value, option, source)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0])
    if annotation is Any:
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v for v in value.split(',') if v]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f'{source}: {key} must be a list, got {value!r}')
        item = args[0] if args else Any
        return tuple(_coerce(key, v, item, source) for v in value)
    if origin is dict:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip().startswith('{') else dict(
                    part.split('=', 1) for part in value.split(',') if part)
            except ValueError:
                raise ConfigError(f'{source}: {key} must be a mapping like a=1,b=2, '
                                  f'got {value!r}') from None
        if not isinstance(value, dict):
            raise ConfigError(f'{source}: {key} must be a mapping, got {value!r}')
        value_type = args[1] if len(args) == 2 else Any
        return {str(k): _coerce(f'{key}.{k}', v, value_type, source) for k, v in value.items()}
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ('true', '1', 'yes', 'on', 'false', '0',
                                                        'no', 'off'):
            return value.lower() in ('true', '1', 'yes', 'on')
        raise ConfigError(f'{source}: {key} must be true or false, got {value!r}')
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(f'{source}: {key} must be an integer, got {value!r}')
        try:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f'{source}: {key} must be an integer, got {value!r}') from None
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f'{source}: {key} must be a number, got {value!r}')
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f'{source}: {key} must be a number, got {value!r}') from None
    if annotation is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f'{source}: {key} must be a string, got {value!r}')
        return str(value)
    return value


def apply_overrides(config: T, values: dict[str, Any], source: str) -> T:
    """Return ``config`` with ``values`` applied; unknown keys and wrong types raise."""
    hints = _field_types(type(config))
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ConfigError(f'{source}: unknown key(s) {unknown}; known keys: {sorted(hints)}')
    coerced = {key: _coerce(key, value, hints[key], source) for key, value in values.items()}
    return replace(config, **coerced)


def load_yaml_overrides(config: T, path: str | os.PathLike) -> T:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f'config file {path} does not exist')
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f'config file {path} is not valid YAML: {error}') from None
    if not isinstance(data, dict):
        raise ConfigError(f'config file {path} must hold a mapping of keys to values')
    return apply_overrides(config, data, str(path))


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add ``--name`` for every field; values stay strings until :func:`apply_overrides`."""
    hints = _field_types(cls)
    for item in fields(cls):
        default = item.default if item.default is not MISSING else None
        parser.add_argument(f'--{item.name.replace("_", "-")}', dest=item.name, default=None,
                            metavar=item.name.upper(),
                            help=f'{_type_name(hints[item.name])} (default: {default!r})')


def _type_name(annotation: Any) -> str:
    return getattr(annotation, '__name__', str(annotation).replace('typing.', ''))


def resolve_config(defaults: T, args: argparse.Namespace, config_path: str | None) -> T:
    """Defaults, then the YAML file, then command-line options that were given."""
    if not is_dataclass(defaults):
        raise TypeError('defaults must be a dataclass instance')
    config = defaults
    if config_path:
        config = load_yaml_overrides(config, config_path)
    given = {f.name: getattr(args, f.name) for f in fields(defaults)
             if getattr(args, f.name, None) is not None}
    return apply_overrides(config, given, 'command line')


def config_to_dict(config: Any) -> dict[str, Any]:
    return {f.name: _plain(getattr(config, f.name)) for f in fields(config)}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def write_yaml(config: Any, path: str | os.PathLike) -> None:
    Path(path).write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))

"""Config files of data settings: YAML or JSON, read safely into DataSettings and written back.

A config file holds the generator's settings under the constructor's names, the frontend
settings either nested under ``frontend_settings`` or flat with ``fe.`` keys as
:meth:`AudioFeatureGeneratorSettings.to_dict` writes them, and optionally the dataset's
``classes``, ``seed`` and ``batch_size``. The keys it accepts are the option specs' names
(:mod:`parallel_audio.cli.option_specs`), so the command line and the file never disagree on
what can be set; a key that is no setting is named in the error.

Reading is bounded in size and in what aliases expand to. Booleans follow YAML 1.2 (``true``
and ``false`` only): under YAML 1.1, which PyYAML follows, ``yes``, ``no``, ``on`` and ``off``
are booleans, and they are four class names of the keyword dataset. Everything else reads as
PyYAML's safe loader reads it; JSON is YAML.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from parallel_audio.cli.data_settings import DATASET_KEYS, CommandLineError, DataSettings
from parallel_audio.cli.option_specs import frontend_setting_names, generator_option_specs
from parallel_audio.errors import printable_path, short_repr
from parallel_audio.frontend_settings import KEY_PREFIX, AudioFeatureGeneratorSettings

#: Largest config file read, in bytes. Data settings take a few hundred bytes; a larger file
#: is the wrong file (or a device such as /dev/zero that never ends).
MAX_CONFIG_BYTES = 1 << 20
#: Most values a config file may hold once its aliases (``*name``) are expanded: a few dozen
#: settings are normal, while nine levels of ten aliases (a "billion laughs") reach 10**9.
MAX_CONFIG_VALUES = 10_000

_BOOL_TAG = "tag:yaml.org,2002:bool"


class ConfigFileProblem(ValueError):
    """A config file cannot be read; the message says why, in a sentence."""


class _Yaml12BooleanLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's booleans: ``yes``, ``no``, ``on``, ``off`` are text."""


_Yaml12BooleanLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12BooleanLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_config(path: str | os.PathLike) -> Any:
    """Return what a YAML or JSON config file holds.

    Parameters
    ----------
    path : str or os.PathLike
        The file: at most :data:`MAX_CONFIG_BYTES` of UTF-8 text whose aliases expand to at
        most :data:`MAX_CONFIG_VALUES` values.

    Returns
    -------
    object
        The document (None for an empty file).

    Raises
    ------
    ConfigFileProblem
        The file cannot be read, is too large, is not UTF-8 text, is not YAML, nests too
        deeply or expands to too many values.
    """
    name = printable_path(os.fspath(path))
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigFileProblem(
            f"cannot read config file {name!r}: {error.strerror or error}"
        ) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigFileProblem(
            f"config file {name!r} is larger than {MAX_CONFIG_BYTES >> 20} MiB; a config file "
            "holds a few settings"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigFileProblem(
            f"config file {name!r} is not UTF-8 text (byte {error.start} is not UTF-8)"
        ) from None
    loader = _Yaml12BooleanLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, MAX_CONFIG_VALUES) > MAX_CONFIG_VALUES:
            raise ConfigFileProblem(
                f"config file {name!r}: its aliases expand to more than {MAX_CONFIG_VALUES} "
                "values; a config file holds a few settings"
            )
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        raise ConfigFileProblem(f"config file {name!r} is not YAML or JSON: {error}") from None
    except RecursionError:  # PyYAML composes nested lists and mappings recursively
        raise ConfigFileProblem(
            f"config file {name!r} nests lists or mappings too deeply; a config file holds a "
            "few settings"
        ) from None
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, budget: int) -> int:
    """Count the values under ``node`` as if every alias were copied out, up to ``budget`` + 1.

    An alias is the node it names, so a document whose aliases nest (or refer to themselves)
    is a graph; walking it with a budget bounds the work at ``budget`` steps.
    """
    count, pending = 0, [node]
    while pending and count <= budget:
        current = pending.pop()
        count += 1
        if isinstance(current, yaml.SequenceNode):
            pending.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                pending.extend((key, value))
    return count


def load_config(path: str | os.PathLike) -> DataSettings:
    """Read a YAML or JSON config file into DataSettings.

    Parameters
    ----------
    path : str or os.PathLike
        The file, read as :func:`read_config` reads it: JSON
        is YAML, booleans are YAML 1.2's (``yes``, ``no``, ``on``, ``off`` are text), at most
        1 MiB whose aliases expand to at most 10 000 values.

    Returns
    -------
    DataSettings

    Raises
    ------
    CommandLineError
        The file cannot be read, is not a mapping, or names a key that is no setting.
    """
    name = printable_path(os.fspath(path))
    try:
        content = read_config(path)
    except ConfigFileProblem as error:
        raise CommandLineError(str(error)) from None
    if content is None:
        content = {}
    if not isinstance(content, Mapping):
        raise CommandLineError(
            f"config file {name!r} must hold a mapping of setting names to values, "
            f"got {type(content).__name__}"
        )
    return settings_from_mapping(content, source=f"config file {name!r}")


def settings_from_mapping(content: Mapping[str, Any], *, source: str = "settings") -> DataSettings:
    """Sort a flat or nested mapping of settings into DataSettings, rejecting unknown keys."""
    generator_names = {spec.name for spec in generator_option_specs()}
    frontend_names = set(frontend_setting_names())
    derived = {key[len(KEY_PREFIX) :] for key in AudioFeatureGeneratorSettings().to_dict()}
    derived -= frontend_names
    settings = DataSettings()
    unknown = []
    for raw_key, value in content.items():
        key = str(raw_key).replace("-", "_")
        if key in DATASET_KEYS:
            setattr(settings, key, _dataset_value(key, value, source))
        elif key == "frontend_settings":
            if not isinstance(value, Mapping):
                raise CommandLineError(
                    f"{source}: frontend_settings must be a mapping of setting names to values"
                )
            nested = {f"{KEY_PREFIX}{k}": v for k, v in value.items()}
            settings.frontend.update(settings_from_mapping(nested, source=source).frontend)
        elif key.startswith(KEY_PREFIX):
            name = key[len(KEY_PREFIX) :]
            if name in frontend_names:
                settings.frontend[name] = value
            elif name not in derived:
                unknown.append(str(raw_key))
        elif key in generator_names:
            settings.generator_kwargs[key] = value
        else:
            unknown.append(str(raw_key))
    if unknown:
        raise CommandLineError(
            f"{source} holds unknown settings {', '.join(repr(k) for k in unknown)}; the known "
            f"ones are the generator's parameters ({', '.join(sorted(generator_names))}), "
            f"frontend settings as fe.<name> or under frontend_settings "
            f"({', '.join(sorted(frontend_names))}), and {', '.join(DATASET_KEYS)}"
        )
    return settings


def _dataset_value(key: str, value: Any, source: str) -> Any:
    """Check ``classes`` (a list of names), ``seed`` and ``batch_size`` (ints) from a file."""
    if value is None:
        return None
    if key == "classes":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
            raise CommandLineError(
                f"{source}: classes must be a list of names (quote a name YAML reads as a "
                f"number: '1'), got {short_repr(value)}"
            )
        return list(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandLineError(f"{source}: {key} must be an integer, got {short_repr(value)}")
    return value


def save_config(settings: DataSettings, path: str | os.PathLike) -> None:
    """Write settings as YAML, or JSON when the file name ends in ``.json``."""
    config = config_from_settings(settings)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        if os.fspath(path).lower().endswith(".json"):
            json.dump(config, file, indent=2)
            file.write("\n")
        else:
            file.write("# parallel_audio data settings\n")
            yaml.safe_dump(config, file, sort_keys=False)


def _plain(value: Any) -> Any:
    """Tuples as lists and numpy scalars as Python numbers, so that YAML writes plain values."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def config_from_settings(settings: DataSettings) -> dict[str, Any]:
    """Return settings as a config file holds them (plain lists, ``fe.`` keys)."""
    config: dict[str, Any] = {}
    for key in DATASET_KEYS:
        value = getattr(settings, key)
        if value is not None:
            config[key] = list(value) if key == "classes" else value
    for name, value in settings.generator_kwargs.items():
        if name != "frontend_settings":
            config[name] = _plain(value)
    for name, value in settings.frontend.items():
        config[KEY_PREFIX + name] = value
    return config

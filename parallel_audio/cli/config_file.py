"""Reading a YAML or JSON config file safely: bounded in size and in what its aliases expand to.

Booleans follow YAML 1.2 (``true`` and ``false`` only): under YAML 1.1, which PyYAML follows,
``yes``, ``no``, ``on`` and ``off`` are booleans, and they are four class names of the keyword
dataset. Everything else reads as PyYAML's safe loader reads it; JSON is YAML.
"""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from parallel_audio.errors import printable_path

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

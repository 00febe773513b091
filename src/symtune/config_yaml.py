"""Config files as YAML: safe, bounded (no alias bombs) and strict (no key given twice in one mapping).

    from symtune.config_yaml import load_yaml
    layer = load_yaml("experiments/i21/nat50.yaml")   # a mapping, or one line naming the file and the fix
"""

from __future__ import annotations

from pathlib import Path

import yaml

from symtune.config import short_repr
from symtune.errors import SymtuneError

MAX_YAML_NODES = 100_000  # a config has hundreds; YAML aliases can make a 300-byte file expand to 10^9


def _expanded_size(node, sizes: dict, limit: int) -> int:
    """Nodes of a composed YAML graph with every alias expanded (memoised per node, so a bomb is counted
    in the time its few nodes take); a recursive alias counts as over the limit."""
    key = id(node)
    if key in sizes:
        if sizes[key] is None:  # still being counted: the node contains itself
            return limit + 1
        return sizes[key]
    sizes[key] = None
    n = 1
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [x for pair in node.value for x in pair]
    else:
        children = []
    for child in children:
        n += _expanded_size(child, sizes, limit)
        if n > limit:
            break
    sizes[key] = n
    return n


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader refusing a key repeated in one mapping: PyYAML keeps the last silently, so a second
    `train:` section would drop the first whole. Keys brought in by a `<<` merge may still be overridden."""

    source = "YAML"

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                    seen.setdefault(key, line)
                except TypeError:  # an unhashable key: SafeLoader's own error names it
                    continue
                if first is not None:
                    raise SymtuneError(f"{self.source}, line {line}: key {short_repr(key)} is given twice in one "
                                       f"mapping (first on line {first}); keep one, as only the last would count")
        return super().construct_mapping(node, deep=deep)


def safe_load_bounded(text: str, source: str, limit: int = MAX_YAML_NODES):
    """yaml.safe_load, refusing a document whose aliases expand past `limit` nodes (an alias bomb) and
    duplicate keys in a mapping."""
    loader = _StrictLoader(text)
    loader.source = source
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}, limit) > limit:
            raise SymtuneError(f"{source} expands to more than {limit:,} values through YAML aliases "
                               "(&anchor/*alias), or an alias refers to itself; write the values out")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(path: str | Path) -> dict:
    p = Path(path)
    if p.is_dir():
        raise SymtuneError(f"config file {p} is a folder; pass a YAML file")
    if not p.is_file():
        raise SymtuneError(f"config file {p} does not exist; pass an existing YAML file")
    try:
        data = safe_load_bounded(p.read_text(encoding="utf-8"), f"config file {p}")
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise SymtuneError(f"config file {p} is not valid YAML ({str(e).splitlines()[0]}); fix its syntax")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SymtuneError(f"config file {p} must hold a mapping of option: value at the top level")
    return data

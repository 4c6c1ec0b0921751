"""yaml12 — reads YAML the way weir does (engine/base/srcdoc.c), for the schema tests.

PyYAML's SafeLoader follows YAML 1.1: `on`, `off`, `yes` and `no` are booleans, `08:00` is the
number 480, dates become date objects and `<<` merges mappings. weir reads the YAML 1.2 core
schema (as VS Code's YAML extension does by default): only true/false/null and plain numbers
are typed, everything else is a string, and mapping keys are kept as written. Validating
PyYAML's reading would check a different document than the one weir loads.
"""
import json
import re

import yaml


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema's implicit types and verbatim keys."""

    yaml_implicit_resolvers = {}

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, "expected a mapping", node.start_mark)
        out = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    "a key must be a scalar", key_node.start_mark)
            key = key_node.value
            if key in out:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    "duplicate key %r" % key, key_node.start_mark)
            out[key] = self.construct_object(value_node, deep=deep)
        return out


def _int(loader, node):
    s = loader.construct_scalar(node)
    if s.startswith("0x"):
        return int(s[2:], 16)
    if s.startswith("0o"):
        return int(s[2:], 8)
    return int(s, 10)


def _float(loader, node):
    return float(loader.construct_scalar(node))


Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:0x[0-9a-fA-F]+|0o[0-7]+|[-+]?[0-9]+)$"),
    list("-+0123456789"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+.0123456789"))
Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _float)


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError("duplicate key %r" % key)
        out[key] = value
    return out


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def load(path):
    """The document in path (YAML, or JSON for a .json name), as weir reads it; raises
    ValueError or yaml.YAMLError for a file weir's reader would refuse before any schema."""
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if path.endswith(".json"):
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    docs = list(yaml.load_all(text, Loader=Yaml12Loader))
    if len(docs) != 1:
        raise ValueError("%d YAML documents (weir reads exactly one)" % len(docs))
    return docs[0]

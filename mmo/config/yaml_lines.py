"""Parsing a profile's YAML while remembering the line of every key: the only module that reads
YAML. Duplicate keys (which yaml would silently collapse) and syntax errors become ``Problem``s.

A profile file may hold an API key by mistake, so YAML errors are reported from their marks,
never with yaml's own snippet of the offending line.

Aliases let a few hundred bytes stand for billions of nodes ("billion laughs": an alias of a list
of aliases of lists ...), and everything after parsing walks the expanded document. So the node
tree is walked with aliases expanded, counting, before anything is built from it: past
``MAX_NODES`` nodes or ``MAX_DEPTH`` levels the file is refused, at the cost of that many steps;
so is an alias inside the node it names (a cycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from mmo.config.problems import KeyPath, Problem, format_key_path

if TYPE_CHECKING:
    import yaml

MAX_NODES = 100_000  # nodes of the document with its aliases expanded; a large profile has a few thousand
MAX_DEPTH = 64  # levels of nesting; strategies nest a handful deep


class _Refused(Exception):
    """The document expands past ``MAX_NODES``, nests past ``MAX_DEPTH`` or holds a cycle, at ``path``."""

    def __init__(self, what: str, path: KeyPath) -> None:
        super().__init__(what)
        self.what, self.path = what, path


@dataclass
class _Walk:
    """The state of one walk over a node tree: the key lines found, the problems, the nodes on the
    current path (an alias of one of them is a cycle) and the nodes visited so far."""

    file: str
    lines: dict[KeyPath, int]
    problems: list[Problem]
    active: set[int]
    visited: int = 0
    max_nodes: int = MAX_NODES
    what: str = "a profile"  # what the file should be, for the messages that refuse it


@dataclass(frozen=True, slots=True)
class ParsedYaml:
    """One YAML text: the document, a map from key path to the line of that key, the problems
    found (duplicate keys, or the syntax error), and whether the text parsed at all."""

    data: Any
    lines: Mapping[KeyPath, int]
    problems: tuple[Problem, ...]
    parsed: bool


def parse_yaml(text: str, file: str, *, what: str = "a profile", max_nodes: int = MAX_NODES) -> ParsedYaml:
    """``text`` parsed, with the line of every key; bad YAML is a problem, never an exception.
    ``what`` names what the file should be in the messages that refuse it (a bench task set
    holds many more nodes than a profile, hence ``max_nodes``)."""
    import yaml

    # libyaml's parser when PyYAML was built with it (several times faster); same nodes and marks.
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader: yaml.SafeLoader | None = None
    try:
        loader = loader_class(text)
        root = loader.get_single_node()
        if root is None:
            return ParsedYaml(None, {}, (), True)
        walk = _Walk(file, {}, [], set(), max_nodes=max_nodes, what=what)
        # The node tree is walked before construction, which flattens `<<` merge keys in place.
        _index_nodes(root, (), walk)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        return ParsedYaml(None, {}, (_yaml_problem(error, file),), False)
    except yaml.YAMLError as error:
        return ParsedYaml(None, {}, (Problem(file, f"invalid YAML: {error}"),), False)
    except _Refused as error:
        return ParsedYaml(None, {}, (_refused_problem(error, walk),), False)
    except RecursionError:  # the parser's own recursion, on brackets nested thousands deep
        return ParsedYaml(None, {}, (Problem(file, f"the YAML nests deeper than {MAX_DEPTH} levels: not {what}"),), False)
    finally:
        if loader is not None:
            loader.dispose()
    return ParsedYaml(data, walk.lines, tuple(walk.problems), True)


def _refused_problem(error: _Refused, walk: _Walk) -> Problem:
    # Located at the top-level key whose value expands: the place to look for the aliases.
    top = error.path[:1]
    return Problem(walk.file, error.what, format_key_path(top), walk.lines.get(top))


def _yaml_problem(error: yaml.MarkedYAMLError, file: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    message = f"invalid YAML: {error.problem or error.context or 'cannot parse'}"
    if error.context and error.problem and error.context_mark is not None:
        message += f" ({error.context} at line {error.context_mark.line + 1})"
    if mark is None:
        return Problem(file, message)
    return Problem(file, message, line=mark.line + 1, column=mark.column + 1)


def _index_nodes(node: Any, path: KeyPath, walk: _Walk) -> None:
    import yaml

    if id(node) in walk.active:  # an alias inside the node it names: endless once built
        raise _Refused(f"an alias refers to a node that holds it (a cycle): not {walk.what}", path)
    walk.visited += 1
    if walk.visited > walk.max_nodes:
        raise _Refused(f"the YAML expands to more than {walk.max_nodes:,} nodes (aliases of aliases?): not {walk.what}", path)
    if len(path) > MAX_DEPTH:
        raise _Refused(f"the YAML nests deeper than {MAX_DEPTH} levels: not {walk.what}", path)
    walk.active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            if key in first_seen and key != "<<":
                walk.problems.append(Problem(walk.file, f"duplicate key {key!r} (first at line {first_seen[key]})", format_key_path((*path, key)), line))
            first_seen.setdefault(key, line)
            walk.lines.setdefault((*path, key), line)
            _index_nodes(value_node, (*path, key), walk)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            walk.lines.setdefault((*path, index), item.start_mark.line + 1)
            _index_nodes(item, (*path, index), walk)
    walk.active.discard(id(node))


def line_of(path: KeyPath, lines: Mapping[KeyPath, int]) -> int | None:
    """The line of ``path``, or of its nearest ancestor in the file (a missing key's parent)."""
    for end in range(len(path), 0, -1):
        key = tuple(part if isinstance(part, int) else str(part) for part in path[:end])
        if key in lines:
            return lines[key]
    return None


def yaml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__

"""YAML with the line of every value: :func:`load_yaml` returns the data and a
:class:`SourceMap` that finds where a key path (``("connections", "rules", 0, "ip")``) was
written, so a problem found later (by the document's model) is reported on its line.

PyYAML's composer keeps a mark (line, column) on every node; the data is built here from
the nodes, not by PyYAML's constructor, so that what the constructor lets pass silently
is refused with its line:

- a key written twice in one mapping (PyYAML keeps the last one; an operator who adds
  ``default: skip`` below an old ``default: record`` would not see which one counts);
- aliases (``*name``) and merge keys (``<<``): a document whose aliases nest expands
  exponentially (the "billion laughs"), and a policy is short enough to write out;
- keys that are not plain scalars (``? [a, b]``), more than one document (``---``),
  tags PyYAML's safe loader does not know, bytes that YAML forbids, nesting deeper than
  :data:`MAX_DEPTH`.

Only PyYAML's safe loader is used: no tag can construct a Python object.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from fastrec.policy.errors import PolicyError, PolicyProblem

__all__ = ["MAX_DEPTH", "SourceMap", "load_yaml", "path_text"]

MAX_DEPTH = 32
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing aliases where it meets them (their line is the alias's)."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed in a policy document: "
                            "write the value out", event.start_mark)
        return super().compose_node(parent, index)  # type: ignore[no-any-return]


def path_text(path: Sequence[str | int]) -> str:
    """``("connections", "rules", 0, "ip")`` -> ``connections.rules[0].ip``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problem(node_or_mark: Any, path: Sequence[str | int], message: str) -> PolicyProblem:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    line = mark.line + 1 if mark is not None else 1
    column = mark.column + 1 if mark is not None else 1
    return PolicyProblem(line, column, path_text(path), message)


class SourceMap:
    """Where the values of one YAML document were written."""

    def __init__(self, root: Node | None) -> None:
        self.root = root

    def locate(self, path: Sequence[str | int]) -> tuple[int, int]:
        """(line, column) of the deepest part of ``path`` that is in the document: the key
        for a mapping entry, the item for a list entry; (1, 1) for an empty document."""
        node = self.root
        mark = node.start_mark if node is not None else None
        for part in path:
            if isinstance(node, MappingNode) and isinstance(part, str):
                for key, value in node.value:
                    if isinstance(key, ScalarNode) and key.value == part:
                        mark, node = key.start_mark, value
                        break
                else:
                    break
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
                mark = node.start_mark
            else:
                break
        if mark is None:
            return 1, 1
        return mark.line + 1, mark.column + 1


def load_yaml(text: str) -> tuple[Any, SourceMap]:
    """The data of the one YAML document in ``text`` (None when it is empty) and its
    source map.  Raises :class:`PolicyError` with the line of every problem the module
    docstring lists, and of YAML syntax errors."""
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # the reader checks every character first
        raise PolicyError([_reader_problem(text, exc)]) from None
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = " ".join(p for p in (exc.context, exc.problem) if p) or "not valid YAML"
            raise PolicyError([_problem(mark, (), _yaml_words(message))]) from None
        except yaml.YAMLError as exc:  # a reader error (a forbidden character) carries its position
            raise PolicyError([_reader_problem(text, exc)]) from None
        except RecursionError:
            raise PolicyError([PolicyProblem(1, 1, "", f"nested deeper than {MAX_DEPTH} levels")]) from None
        problems: list[PolicyProblem] = []
        data = _data(loader, root, (), problems) if root is not None else None
        if problems:
            raise PolicyError(problems)
        return data, SourceMap(root)
    finally:
        loader.dispose()


def _yaml_words(message: str) -> str:
    # PyYAML's words for the commonest slip: a tab where YAML wants spaces
    if "found character '\\t'" in message:
        return message + " (indent with spaces, not tabs)"
    return message


def _reader_problem(text: str, exc: yaml.YAMLError) -> PolicyProblem:
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        character = getattr(exc, "character", None)
        shown = f" U+{character:04X}" if isinstance(character, int) else ""
        return PolicyProblem(line, column, "", f"the character{shown} is not allowed in YAML (control "
                                               "characters and lone surrogates are not)")
    return PolicyProblem(1, 1, "", str(exc))


def _data(loader: _Loader, node: Node, path: tuple[str | int, ...], problems: list[PolicyProblem]) -> Any:
    """The Python value of ``node``; each problem found is appended (with its line)."""
    if len(path) > MAX_DEPTH:
        problems.append(_problem(node, path, f"nested deeper than {MAX_DEPTH} levels"))
        return None
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == _MERGE_TAG:
                problems.append(_problem(key, path, "merge keys (<<) are not allowed in a policy document: "
                                                    "write the keys out"))
                continue
            if not isinstance(key, ScalarNode):
                problems.append(_problem(key, path, "a key must be a plain name, not a list or mapping"))
                continue
            name = str(key.value)
            if name in out:
                problems.append(_problem(key, (*path, name), f"the key is written twice (first on line "
                                                             f"{first_line[name]}); keep one"))
                continue
            first_line[name] = key.start_mark.line + 1
            out[name] = _data(loader, value, (*path, name), problems)
        return out
    if isinstance(node, SequenceNode):
        return [_data(loader, item, (*path, i), problems) for i, item in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except yaml.MarkedYAMLError as exc:  # an unknown tag (!python/object ...) or a bad timestamp
        problems.append(_problem(exc.problem_mark or node, path, str(exc.problem or "cannot be read")))
        return None
    except ValueError as exc:  # PyYAML's int/float constructors on odd input
        problems.append(_problem(node, path, f"cannot be read: {exc}"))
        return None

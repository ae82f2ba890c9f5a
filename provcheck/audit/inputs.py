"""The references an audit reads: given on the command line, or a file of them.

A file is, by its content, either a list (one reference a line, ``#`` comments, blank lines)
or Kubernetes YAML (``---``-separated documents, ``List`` kinds, Helm's rendered output): the
images of every workload in it (:mod:`provcheck.audit.workloads`), in document order. YAML is
read as policies are (no duplicate keys, anchors or aliases). Every mistake is a
:class:`~provcheck.errors.UsageError` naming ``file:line`` (exit 2).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from provcheck._internal.files import read_capped
from provcheck.audit.workloads import images_of
from provcheck.errors import PolicyMistakesError, UsageError
from provcheck.oci.reference import parse_reference
from provcheck.policy.loader import _BaseLoader, _Mistakes, _walk
from provcheck.report.escape import escape_text

MAX_INPUT_BYTES: Final = 64 * 1024 * 1024
STDIN: Final = "-"

_YAML_START: Final = re.compile(r"^(---|%YAML|\{|[A-Za-z_][\w.-]*:(\s|$))")
"""The first meaningful line of a YAML file: a document marker, a directive, a key (no
reference has a colon followed by a space or the end of the line) or a JSON object (what
``kubectl get -o json`` prints)."""


def _checked(reference: str, where: str) -> str:
    try:
        parse_reference(reference)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.diagnostics()}") from exc
    return reference


def check_references(references: Sequence[str]) -> list[str]:
    """Command-line references, each parsed once (a bad one is named)."""
    return [_checked(ref, "argument") for ref in references]


def _read(source: str) -> str:
    if source == STDIN:
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        if len(data) > MAX_INPUT_BYTES:
            raise UsageError(f"standard input is larger than {MAX_INPUT_BYTES} bytes")
    else:
        data = read_capped(Path(source), MAX_INPUT_BYTES, "input file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{_name(source)}: not UTF-8 text (byte {exc.start})") from exc


def _name(source: str) -> str:
    return "<stdin>" if source == STDIN else source


def read_inputs(source: str) -> list[str]:
    """The references of the file ``source`` (``-``: standard input), in order."""
    text = _read(source)
    name = _name(source)
    meaningful = (line.strip() for line in text.splitlines())
    first = next((line for line in meaningful if line and not line.startswith("#")), "")
    references = _yaml_images(text, name) if _YAML_START.match(first) else _lines(text, name)
    if not references:
        raise UsageError(f"{name}: no image references in it")
    return references


def _lines(text: str, name: str) -> list[str]:
    out: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if len(entry.split()) > 1:
            shown = escape_text(entry[:80])
            raise UsageError(f"{name}:{number}: one reference a line, not {shown!r}")
        out.append(_checked(entry, f"{name}:{number}"))
    return out


def _node_at(node: yaml.Node, path: Sequence[str]) -> yaml.Node:
    """The node an RFC 6901 pointer's tokens lead to (they exist: the data came from it)."""
    for token in path:
        if isinstance(node, yaml.MappingNode):
            key = token.replace("~1", "/").replace("~0", "~")
            node = next(v for k, v in reversed(node.value) if k.value == key)
        elif isinstance(node, yaml.SequenceNode):
            node = node.value[int(token)]
    return node


def _objects(data: Any, node: yaml.Node) -> Iterator[tuple[Mapping[str, Any], yaml.Node]]:
    """The objects of a document, each with its node: the items of a ``List``, or itself."""
    if not isinstance(data, Mapping):
        return
    items = data.get("items")
    if str(data.get("kind", "")).endswith("List") and isinstance(items, list):
        item_nodes = _node_at(node, ["items"]).value
        for item, item_node in zip(items, item_nodes, strict=True):
            yield from _objects(item, item_node)
    else:
        yield data, node


def _yaml_images(text: str, name: str) -> list[str]:
    mistakes = _Mistakes(name)
    loader = _BaseLoader(text)
    out: list[str] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if not _walk(node, (), {}, set(), mistakes):
                mistakes.raise_any()
            mistakes.raise_any()
            data = loader.construct_document(node)
            if data is not None and not isinstance(data, Mapping):
                line = node.start_mark.line + 1
                raise UsageError(f"{name}:{line}: a YAML document that is not a Kubernetes object")
            for obj, obj_node in _objects(data, node):
                for found in images_of(obj):
                    image_node = _node_at(obj_node, found.path.split("/")[1:])
                    where = f"{name}:{image_node.start_mark.line + 1}"
                    out.append(_checked(found.image, where))
    except PolicyMistakesError as exc:
        raise UsageError(exc.messages[0]) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{name}{line}: invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{name}: invalid YAML: {str(exc)[:200]}") from exc
    except RecursionError as exc:
        raise UsageError(f"{name}: YAML nests too deeply") from exc
    finally:
        loader.dispose()
    return out

"""Rooms you can know: no module over 400 lines, no class over 200, unless it says why.

Drawn from the source (``ast``; nothing is imported). A module of more than
:data:`MODULE_LINES` lines, or a class of more than :data:`CLASS_LINES`, passes
only with a stated reason: the marker phrase ``lines because`` followed by the
reason, for example::

    :class:`Worker` is a little over 200 lines because it is the state machine: ...

A module states it in its own docstring. A class states it in its own
docstring, or in its module's docstring in a sentence that names the class
(as above). Anything else that grows past the limit is to be split by job.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import reaper

ROOT = Path(reaper.__file__).parent
MODULE_LINES = 400
CLASS_LINES = 200

#: The marker phrase and at least a few words of reason after it.
MARKER = re.compile(r"\blines because\b(\s+\S+){3,}", re.IGNORECASE)


def _said_for_class(name: str, module_doc: str) -> bool:
    """Whether ``module_doc`` has a sentence naming ``name`` that holds the marker."""
    sentences = re.split(r"(?<=[.;])\s+(?=[A-Z:`])", " ".join(module_doc.split()))
    return any(re.search(rf"\b{re.escape(name)}\b", s) and MARKER.search(s) for s in sentences)


def oversized(source: str, where: str) -> list[str]:
    """What in ``source`` is over its limit without a stated reason, one line each."""
    tree = ast.parse(source, where)
    module_doc = ast.get_docstring(tree) or ""
    found = []
    lines = len(source.splitlines())
    if lines > MODULE_LINES and not MARKER.search(module_doc):
        found.append(f"{where} has {lines} lines (over {MODULE_LINES}) and states no reason")
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        size = (node.end_lineno or node.lineno) - node.lineno + 1
        if size <= CLASS_LINES:
            continue
        if MARKER.search(ast.get_docstring(node) or "") or _said_for_class(node.name, module_doc):
            continue
        found.append(
            f"{where}: class {node.name} has {size} lines (over {CLASS_LINES}) and states no reason"
        )
    return found


def test_no_module_or_class_is_oversized_without_a_stated_reason() -> None:
    found = [
        problem
        for path in sorted(ROOT.rglob("*.py"))
        for problem in oversized(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert found == [], (
        "split these by job, or say why they must be this size with the phrase "
        "'lines because <reason>' (see this test's docstring):\n" + "\n".join(found)
    )


def _module(doc: str, body_lines: int, *, cls: str | None = None, cls_doc: str = "") -> str:
    body = [f'"""{doc}"""', ""]
    if cls is not None:
        body += [f"class {cls}:", f'    """{cls_doc}"""']
        body += [f"    x{i} = {i}" for i in range(body_lines)]
    else:
        body += [f"x{i} = {i}" for i in range(body_lines)]
    return "\n".join(body) + "\n"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(_module("Small.", 10), 0, id="small_module"),
        pytest.param(_module("Big.", 420), 1, id="big_module"),
        pytest.param(
            _module("Big. It is over 400 lines because the table is one.", 420),
            0,
            id="big_module_with_reason",
        ),
        pytest.param(
            _module("Big lines because.", 420), 1, id="marker_without_a_reason_is_not_enough"
        ),
        pytest.param(_module("Small.", 250, cls="Big"), 1, id="big_class"),
        pytest.param(
            _module("Small.", 250, cls="Big", cls_doc="Over 200 lines because it is the machine."),
            0,
            id="big_class_with_its_own_reason",
        ),
        pytest.param(
            _module(
                "Holds :class:`Big`. :class:`Big` is over 200 lines because it is the machine.",
                250,
                cls="Big",
            ),
            0,
            id="big_class_named_in_the_module_reason",
        ),
        pytest.param(
            _module(
                "Holds Big. Other is over 200 lines because it is the machine.", 250, cls="Big"
            ),
            1,
            id="a_reason_for_another_class_does_not_count",
        ),
    ],
)
def test_the_size_check_finds_what_it_should(source: str, expected: int) -> None:
    assert len(oversized(source, "m.py")) == expected

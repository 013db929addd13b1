"""The fenced blocks of README.md and doc/*.md, and what each one is (see doc/README.md).

Every fenced block has a language, and its language says how it is tested:

``sh``
    commands, run top to bottom by ``tests/functional/test_docs_commands.py``
    against the testbed and the machine's services;
``ini``
    a reaper.conf, whose every section and option must be one reaper registers and
    whose every value must parse with the option's type (``tests/confcheck.py``);
``yaml``
    says what it is in a marker: a ``policy`` file (``reaper policy validate``) or
    ``prometheus-rules`` (parsed; metric names checked against ``/metrics``);
``text``
    a diagram or a listing: not a command, not configuration.

A marker is an HTML comment on the line right above the fence, invisible once
rendered: ``<!-- docs: KIND [PATH] -->``. ``KIND`` is ``reaper.conf``,
``keystone.conf``, ``policy`` or ``prometheus-rules``; ``PATH`` says that the
block is that file of the user's (``/etc/reaper/reaper.conf``,
``my-policies.yaml``), and the command session writes it there before running
the commands that use it. ``<!-- docs: exempt: REASON -->`` leaves a block of any
language out, and the reason is shown with the test results. A block whose language or
marker is not one of these fails the tests: nothing documented goes untested
by accident.

Pure parsing: no I/O beyond reading the documents.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: What each language's blocks may be, the first being the default without a marker.
KINDS: dict[str, tuple[str, ...]] = {
    "sh": ("run",),
    "ini": ("reaper.conf", "keystone.conf"),
    "yaml": ("policy", "prometheus-rules"),
    "text": ("text",),
}
#: Kinds that need a marker even in their own language (yaml has no default).
NO_DEFAULT = {"yaml"}
EXEMPT = "exempt"

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_MARKER = re.compile(r"^\s*<!--\s*docs:\s*(?P<body>.*?)\s*-->\s*$")


class SnippetError(ValueError):
    """A block whose language or marker says nothing the tests know how to check."""


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its marker, its text."""

    path: str
    #: 1-based line of the opening fence.
    line: int
    lang: str
    text: str
    #: What the block is (see :data:`KINDS`), or ``exempt``.
    kind: str
    #: The user's file the block is (marker's PATH), if any.
    file: str | None = None
    #: Why an exempt block is not run.
    reason: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def exempt(self) -> bool:
        return self.kind == EXEMPT


def documents(root: Path = ROOT) -> list[Path]:
    """README.md, then doc/*.md in name order: every page a user reads."""
    return [root / "README.md", *sorted((root / "doc").glob("*.md"))]


def blocks(root: Path = ROOT) -> list[Block]:
    """Every fenced block of :func:`documents`; raises :class:`SnippetError` on any unknown."""
    found: list[Block] = []
    errors: list[str] = []
    for doc in documents(root):
        for raw in _fenced(doc.read_text(encoding="utf-8").splitlines()):
            line, lang, text, marker = raw
            where = f"{doc.relative_to(root)}:{line}"
            try:
                found.append(_classify(str(doc.relative_to(root)), line, lang, text, marker))
            except SnippetError as exc:
                errors.append(f"{where}: {exc}")
    if errors:
        raise SnippetError("\n".join(errors))
    return found


def _fenced(lines: list[str]) -> Iterator[tuple[int, str, str, str | None]]:
    """(line of the fence, language, text, marker body) for each fenced block."""
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence, lang = opening.group(1), opening.group(2), opening.group(3)
        marker = _MARKER.match(lines[index - 1]) if index else None
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            candidate = lines[end].strip()
            if candidate.startswith(fence[0] * len(fence)) and not candidate.strip(fence[0]):
                break
            body.append(lines[end][len(indent) :] if lines[end].startswith(indent) else lines[end])
            end += 1
        yield index + 1, lang, "\n".join(body) + "\n", marker.group("body") if marker else None
        index = end + 1


def _classify(path: str, line: int, lang: str, text: str, marker: str | None) -> Block:
    if marker is not None and marker.startswith(EXEMPT):
        # Not run, whatever its language (an SQL script, a unit file...): the reason says why.
        reason = marker[len(EXEMPT) :].lstrip(":").strip()
        if not reason:
            raise SnippetError("an exempt block says why: <!-- docs: exempt: REASON -->")
        return Block(path, line, lang, text, EXEMPT, reason=reason)
    if lang not in KINDS:
        known = ", ".join(KINDS)
        raise SnippetError(
            f"a {'```' + lang if lang else 'fence without a language'} block is not tested: "
            f"use one of {known} (see doc/README.md)"
        )
    if marker is None:
        if lang in NO_DEFAULT:
            raise SnippetError(
                f"a {lang} block needs a marker saying what it is: <!-- docs: "
                f"{' | '.join(KINDS[lang])} --> (see doc/README.md)"
            )
        return Block(path, line, lang, text, KINDS[lang][0])
    kind, _, file = marker.partition(" ")
    if kind not in KINDS[lang]:
        raise SnippetError(
            f"<!-- docs: {marker} --> is not something a {lang} block can be: "
            f"{', '.join(KINDS[lang])} or exempt"
        )
    return Block(path, line, lang, text, kind, file=file.strip() or None)


def commands(text: str) -> list[str]:
    """The commands of an sh block: one per line, ``\\`` continuations joined, blanks and
    comment-only lines left out. A command keeps its trailing comment (the shell ignores it)."""
    found: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line.strip() and not line.lstrip().startswith("#"):
            found.append(line.strip())
    return found


def without_comment(command: str) -> str:
    """The command as the shell runs it, for matching: its trailing ``# ...`` removed.

    Good enough for the docs' commands, which quote no ``#``.
    """
    return re.sub(r"\s+#.*$", "", command).strip()

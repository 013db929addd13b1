"""Records that differ only in a few ids, made from one encoded template.

A batch of ``receive`` records is a few shapes repeated: the same action,
reason, trigger type, publisher and time, and only the event id, the
identity, the tombstone and the message id differ. Building and canonically
encoding each record was most of what persisting a notification cost, so a
:class:`Template` builds one record of the shape with random markers for
those values, encodes it once, and cuts the text at the markers; a copy is
the pieces joined with its own values, each encoded as the canonical
encoder encodes a string.

Why that is exact: the canonical encoding orders every object by its keys,
never by its values, so putting another string where a string was changes
those characters and nothing else. Markers are random (128 bits per
template) and must each be found where expected; and every template checks
itself once, against :func:`reaper.audit.record.build` of its first real
values, before it is used (:meth:`Template.make` answers ``None`` when a
shape cannot be made this way, and the caller builds the record itself).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping

from reaper.audit.columns import RecordIndex
from reaper.audit.record import RecordDraft

#: How the canonical encoder (``reaper.audit.record``, ``ensure_ascii=False``)
#: encodes a string: the very function it calls.
_encode = json.encoder.encode_basestring

#: Builds the record of a shape with the given hole values.
Make = Callable[[Mapping[str, str]], RecordDraft]

#: Where ``seq`` goes, among the pieces (holes are numbered from 0).
_SEQ = -1


class Filled:
    """A record made from a template (a :class:`~reaper.audit.chain.Sealable`)."""

    __slots__ = ("_after", "_before", "index")

    def __init__(self, before: str, after: str, index: RecordIndex) -> None:
        self._before = before
        self._after = after
        self.index = index

    def body(self, seq: int) -> str:
        return f"{self._before}{int(seq)}{self._after}"


class Template:
    """One shape of record, encoded once, with holes for the values its copies differ by.

    ``make`` builds the shape's record from hole values; ``holes`` names them.
    Not thread-safe: one belongs to one batch.
    """

    @property
    def usable(self) -> bool:
        """Whether copies are made (known once the first was asked for)."""
        return self._usable is True

    def __init__(self, make: Make, holes: tuple[str, ...], *, checked: bool = False) -> None:
        self._make = make
        #: A template of this shape agreed with ``make`` before (``_agrees``): holes are
        #: verbatim or not by shape, whatever the values, so it need not check again.
        self._checked = checked
        self._holes = holes
        #: The body's text cut at the holes: text, or a hole's number (``_SEQ`` for seq).
        self._pieces: list[str | int] = []
        #: Each index column's hole number, or None where it is the template's value.
        self._columns: list[int | None] = []
        #: The text before and after ``seq``, as ``str.format`` texts of the encoded holes.
        self._formats = ("", "")
        self._base: RecordIndex | None = None
        self._usable: bool | None = None  # None: not tried yet

    def make(self, values: Mapping[str, str]) -> Filled | None:
        """The record with these hole values; ``None`` when the caller must build it."""
        if self._usable is False:
            return None
        for hole in self._holes:
            if type(values.get(hole)) is not str:
                return None
        if self._usable is None:
            self._usable = self._prepare() and (self._checked or self._agrees(values))
            if not self._usable:
                return None
        return self._fill(values)

    def _prepare(self) -> bool:
        tag = f"reaper-hole-{secrets.token_hex(16)}-"
        draft = self._make({h: f"{tag}{n}" for n, h in enumerate(self._holes)})
        text = draft.body(f"{tag}seq")  # type: ignore[arg-type]
        numbers = {str(n): n for n in range(len(self._holes))} | {"seq": _SEQ}
        first, *cut = text.split(f'"{tag}')
        self._pieces = [first]
        for part in cut:
            name, quote, rest = part.partition('"')
            if not quote or name not in numbers:
                return False
            self._pieces += [numbers[name], rest]
        found = [p for p in self._pieces if isinstance(p, int)]
        if found.count(_SEQ) != 1 or set(found) != set(numbers.values()):
            return False
        if any(tag in p for p in self._pieces if isinstance(p, str)):
            return False  # a marker somewhere the cut did not take it (inside a string)
        at = self._pieces.index(_SEQ)
        self._formats = (_format(self._pieces[:at]), _format(self._pieces[at + 1 :]))
        self._base = draft.index
        markers = {f"{tag}{n}": n for n in range(len(self._holes))}
        self._columns = [markers.get(v) if isinstance(v, str) else None for v in draft.index]
        return not any(
            isinstance(v, str) and tag in v and markers.get(v) is None for v in draft.index
        )

    def _agrees(self, values: Mapping[str, str]) -> bool:
        """Whether a copy is exactly the record built from the same values."""
        built = self._make(values)
        filled = self._fill(values)
        return filled.body(1) == built.body(1) and filled.index == built.index

    def _fill(self, values: Mapping[str, str]) -> Filled:
        own = [values[h] for h in self._holes]
        encoded = [_encode(v) for v in own]
        before, after = self._formats
        assert self._base is not None
        index = RecordIndex._make(
            base if hole is None else own[hole]
            for base, hole in zip(self._base, self._columns, strict=True)
        )
        return Filled(before.format(*encoded), after.format(*encoded), index)


def _format(pieces: list[str | int]) -> str:
    """``pieces`` as one ``str.format`` text: text verbatim (braces doubled), holes by number."""
    return "".join(
        p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else f"{{{p}}}"
        for p in pieces
    )

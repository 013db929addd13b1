"""What verification found: problems (which fail it) and warnings (which do not).

Shared by the chain walk and the checkpoint checks, so both report into one
:class:`VerifyReport` in the order they find things.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class ProblemKind(str, enum.Enum):
    MISSING = "missing"
    ORDER = "order"
    MALFORMED = "malformed"
    MOVED = "moved"
    EDITED = "edited"
    LINK = "link"
    HEAD = "head"
    INDEX = "index"
    CHAIN_HEAD = "chain_head"
    CHECKPOINT = "checkpoint"
    CHECKPOINT_CHAIN = "checkpoint_chain"
    SIGNATURE = "signature"
    UNSIGNED = "unsigned"
    BUNDLE = "bundle"


@dataclass(frozen=True)
class Problem:
    """One inconsistency: where (``seq`` and/or ``checkpoint`` number) and why."""

    kind: ProblemKind
    message: str
    seq: int | None = None
    checkpoint: int | None = None

    def __str__(self) -> str:
        where = []
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.checkpoint is not None:
            where.append(f"checkpoint #{self.checkpoint}")
        return f"{', '.join(where) or 'trail'}: {self.message}"


@dataclass
class VerifyReport:
    """The verdict. ``ok`` only when no problem was found; warnings do not fail it."""

    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head: str | None = None
    checkpoints: int = 0
    signatures_verified: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    first_bad_seq: int | None = None
    #: The checkpoint the walk started from (a pruned trail, ``reaper audit archive``).
    from_checkpoint: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first_problem(self) -> Problem | None:
        """The problem at the lowest seq (or the first one found, if none has a seq)."""
        with_seq = [p for p in self.problems if p.seq is not None]
        if with_seq:
            return min(with_seq, key=lambda p: p.seq or 0)
        return self.problems[0] if self.problems else None


class Findings:
    """Where the checks report: problems counted (the first ``max_problems`` kept), warnings."""

    def __init__(self, max_problems: int = 100) -> None:
        self.report = VerifyReport()
        self.max_problems = max_problems

    def problem(
        self,
        kind: ProblemKind,
        message: str,
        *,
        seq: int | None = None,
        checkpoint: int | None = None,
    ) -> None:
        report = self.report
        report.problem_count += 1
        if seq is not None and (report.first_bad_seq is None or seq < report.first_bad_seq):
            report.first_bad_seq = seq
        if len(report.problems) < self.max_problems:
            report.problems.append(Problem(kind, message, seq, checkpoint))

    def warn(self, message: str) -> None:
        self.report.warnings.append(message)


def short(digest: str | None) -> str:
    return (digest or "none")[:12]

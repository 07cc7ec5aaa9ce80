"""Problems found in input files, always naming the file, the line and the field."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RowProblem:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        if self.field == "-":  # the record or file as a whole
            return f"{where}: {self.message}"
        return f"{where}: field {self.field!r}: {self.message}"


class EngineUnavailable(RuntimeError):
    """The chosen engine cannot start here (Spark without Java, an unreachable master): said in one line."""


class MalformedInput(ValueError):
    """Raised in --strict mode at the first bad row (or when a whole file cannot be read)."""

    def __init__(self, problem: RowProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class LoadReport:
    rows_read: int = 0
    rows_kept: int = 0
    rows_skipped: int = 0
    problems: list[RowProblem] = field(default_factory=list)  # the first few, for display
    max_problems_kept: int = 50

    def add(self, problems: list[RowProblem], skipped: int) -> None:
        room = self.max_problems_kept - len(self.problems)
        self.problems.extend(problems[: max(room, 0)])
        self.rows_skipped += skipped

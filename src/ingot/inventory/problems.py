"""Problems found in an inventory file, collected so the operator sees all of them at once.

Parsers never stop at the first bad node: they record a ``Problem`` and go on, and
``parse_inventory`` raises one ``InventoryInvalid`` that lists every problem. Messages never
carry secret values (passwords); they name the file, the node and the field, and say the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingot.errors import InvalidInput


@dataclass(frozen=True)
class Where:
    """Which node of which file a problem or a note is about."""

    file: str
    index: int | None = None  # position of the node in the file (0-based), None: the whole file
    name: str | None = None  # node name, when the file gives one
    line: int | None = None  # 1-based line for line-oriented formats (CSV)
    path: str | None = None  # where in the document, when not simply nodes[index]

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.index is not None:
            node = f"node #{self.index}" if self.path is None else f"node {self.path}"
            if self.name:
                node += f" ({self.name})"
            parts.append(node)
        return ": ".join(parts)

    @property
    def source(self) -> str:
        """Short reference kept on each request: ``file:nodes[2]`` or ``file:line 3``."""
        if self.line is not None:
            return f"{self.file}:line {self.line}"
        if self.path is not None:
            return f"{self.file}:{self.path}"
        if self.index is not None:
            return f"{self.file}:nodes[{self.index}]"
        return self.file


@dataclass(frozen=True)
class Problem:
    """One invalid value: where, which field, what is wrong and how to fix it."""

    where: Where
    field: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        at = str(self.where)
        if self.field:
            at += f", field '{self.field}'"
        return f"{at}: {self.message}; {self.fix}"


class InventoryInvalid(InvalidInput):
    """The inventory has one or more problems; ``problems`` lists all of them (400)."""

    def __init__(self, problems: list[Problem]) -> None:
        count = len(problems)
        head = f"inventory has {count} problem{'s' if count != 1 else ''}; nothing was imported:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in problems)]))
        self.problems = list(problems)


@dataclass
class ProblemLog:
    """Collects problems while a file is parsed; ``bad`` tells which node indexes failed."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, where: Where, field_name: str | None, message: str, fix: str) -> None:
        self.problems.append(Problem(where, field_name, message, fix))

    def count_for(self, where: Where) -> int:
        return sum(1 for p in self.problems if p.where == where)

    @property
    def bad_indexes(self) -> set[int]:
        return {p.where.index for p in self.problems if p.where.index is not None}

    def raise_if_any(self) -> None:
        if self.problems:
            raise InventoryInvalid(self.problems)

"""Member liveness states and the precedence rule between two claims about one node."""

from __future__ import annotations

import enum


class MemberState(enum.Enum):
    """Values are the wire codes (push/pull entries); `label` is the name people read."""

    ALIVE = 0
    SUSPECT = 1
    DEAD = 2
    LEFT = 3

    @property
    def gone(self) -> bool:
        return self in (MemberState.DEAD, MemberState.LEFT)

    @property
    def label(self) -> str:
        return self.name.lower()


def precedence(generation: int, incarnation: int) -> tuple[int, int]:
    """Claims about a node are ordered by (generation, incarnation): a restarted process
    (new generation) beats every incarnation of its predecessor."""
    return generation, incarnation

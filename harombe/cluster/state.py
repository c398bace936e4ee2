"""Member liveness states and the precedence rule between two claims about one node."""

from __future__ import annotations

import enum


class MemberState(enum.Enum):
    ALIVE = "alive"
    SUSPECT = "suspect"
    DEAD = "dead"
    LEFT = "left"

    @property
    def gone(self) -> bool:
        return self in (MemberState.DEAD, MemberState.LEFT)


STATE_CODES: dict[MemberState, int] = {s: i for i, s in enumerate(MemberState)}
CODE_STATES: dict[int, MemberState] = {i: s for s, i in STATE_CODES.items()}


def precedence(generation: int, incarnation: int) -> tuple[int, int]:
    """Claims about a node are ordered by (generation, incarnation): a restarted process
    (new generation) beats every incarnation of its predecessor."""
    return generation, incarnation

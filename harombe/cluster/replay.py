"""Replay protection for authenticated frames: timestamp window + per-sender nonce cache."""

from __future__ import annotations

from collections import OrderedDict


class ReplayGuard:
    """Frames carry (sender, generation, seq) as a nonce and a wall-clock timestamp.

    A frame is stale if its timestamp is more than `window` seconds from ours, replayed if its
    nonce was seen. Memory is bounded: `per_sender` nonces for each of `max_senders` senders
    (least recently heard forgotten first); only authenticated frames reach this check, so
    the senders are cluster members.
    """

    def __init__(self, window: float, per_sender: int, max_senders: int) -> None:
        self.window = window
        self.per_sender = per_sender
        self.max_senders = max_senders
        self._seen: OrderedDict[str, OrderedDict[tuple[int, int], None]] = OrderedDict()

    def check(self, sender: str, gen: int, seq: int, ts: float, now: float) -> str | None:
        """None if fresh (and remember it), else the drop reason."""
        if abs(ts - now) > self.window:
            return "stale"
        nonces = self._seen.get(sender)
        if nonces is None:
            nonces = self._seen[sender] = OrderedDict()
            if len(self._seen) > self.max_senders:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(sender)
        key = (gen, seq)
        if key in nonces:
            return "replayed"
        nonces[key] = None
        if len(nonces) > self.per_sender:
            nonces.popitem(last=False)
        return None

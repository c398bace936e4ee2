"""Confirmations the client is waiting to give: a `confirm` event's id, answered by
`POST /agent/confirm/{id}`. An id names the peer that asked (`HEX@peer`), so any peer can pass
the answer on to it. No answer within the timeout is a no."""

from __future__ import annotations

import asyncio
import secrets

MAX_PENDING = 1000  # confirmations waiting at once; more are denied at once


class Confirmations:
    def __init__(self, node_name: str, timeout: float) -> None:
        self.node_name = node_name
        self.timeout = timeout
        self._pending: dict[str, asyncio.Future[bool]] = {}

    def new_id(self) -> str:
        return f"{secrets.token_hex(8)}@{self.node_name}"

    async def wait(self, confirm_id: str) -> bool:
        """Wait for the answer to `confirm_id`; False on timeout or when too many wait."""
        if len(self._pending) >= MAX_PENDING:
            return False
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending[confirm_id] = future
        try:
            async with asyncio.timeout(self.timeout):
                return await future
        except TimeoutError:
            return False
        finally:
            self._pending.pop(confirm_id, None)

    def answer(self, confirm_id: str, allow: bool) -> bool:
        """Give the answer; False when nothing waits for this id (unknown, or timed out)."""
        future = self._pending.get(confirm_id)
        if future is None or future.done():
            return False
        future.set_result(allow)
        return True

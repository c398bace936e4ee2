"""Conversations in SQLite (WAL) in the peer's data directory, so they survive a restart.

A conversation is its messages (user, assistant with tool calls, tool results) and, per turn,
where each step ran (node, tier, model), its timings and fallbacks. A conversation id names
its owner: `HEX@peer`. Every call runs in a worker thread; one connection, one lock.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harombe.inference.types import Message, ToolCall

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, turn INTEGER NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY (conversation, seq)
);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    turn INTEGER NOT NULL, started REAL NOT NULL, finished REAL NOT NULL, info TEXT NOT NULL,
    PRIMARY KEY (conversation, turn)
);
"""
TITLE_CHARS = 80
_ID = re.compile(r"[0-9a-f]{16}@[^/@\s]{1,256}")


def owner_of(conversation_id: str) -> str | None:
    """The peer that owns a conversation id; None when it is not a conversation id."""
    if not _ID.fullmatch(conversation_id):
        return None
    return conversation_id.split("@", 1)[1]


def message_to_dict(message: Message) -> dict[str, Any]:
    return asdict(message)


def message_from_dict(data: dict[str, Any]) -> Message:
    calls = [ToolCall(**c) for c in data.get("tool_calls") or []]
    return Message(**{**data, "tool_calls": calls})


class ConversationStore:
    def __init__(self, path: Path, node_name: str) -> None:
        self.path = path
        self.node_name = node_name
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def new_id(self) -> str:
        return f"{secrets.token_hex(8)}@{self.node_name}"

    async def create(self, title: str) -> str:
        conversation_id = self.new_id()
        now = time.time()
        await self._run(
            "INSERT INTO conversations VALUES (?, ?, ?, ?)",
            (conversation_id, title[:TITLE_CHARS], now, now),
        )
        return conversation_id

    async def count(self) -> int:
        rows = await self._run("SELECT COUNT(*) FROM conversations")
        return int(rows[0][0])

    async def messages(self, conversation_id: str) -> list[Message] | None:
        """The conversation's messages in order; None when it does not exist."""
        if not await self.exists(conversation_id):
            return None
        rows = await self._run(
            "SELECT message FROM messages WHERE conversation = ? ORDER BY seq", (conversation_id,)
        )
        return [message_from_dict(json.loads(r[0])) for r in rows]

    async def exists(self, conversation_id: str) -> bool:
        rows = await self._run("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,))
        return bool(rows)

    async def add_turn(
        self, conversation_id: str, messages: list[Message], info: dict[str, Any], started: float
    ) -> None:
        """Append one turn's messages and its record, all or nothing."""
        await asyncio.to_thread(self._add_turn, conversation_id, messages, info, started)

    async def list(self) -> list[dict[str, Any]]:
        rows = await self._run(
            "SELECT c.id, c.title, c.created, c.updated, "
            "(SELECT COUNT(*) FROM turns t WHERE t.conversation = c.id) "
            "FROM conversations c ORDER BY c.updated DESC"
        )
        keys = ("id", "title", "created", "updated", "turns")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    async def get(self, conversation_id: str) -> dict[str, Any] | None:
        rows = await self._run(
            "SELECT id, title, created, updated FROM conversations WHERE id = ?",
            (conversation_id,),
        )
        if not rows:
            return None
        result = dict(zip(("id", "title", "created", "updated"), rows[0], strict=True))
        messages = await self._run(
            "SELECT turn, message FROM messages WHERE conversation = ? ORDER BY seq",
            (conversation_id,),
        )
        result["messages"] = [{"turn": t, **json.loads(m)} for t, m in messages]
        turns = await self._run(
            "SELECT turn, started, finished, info FROM turns WHERE conversation = ? ORDER BY turn",
            (conversation_id,),
        )
        result["turns"] = [
            {"turn": t, "started": s, "finished": f, **json.loads(i)} for t, s, f, i in turns
        ]
        return result

    async def delete(self, conversation_id: str) -> bool:
        return await asyncio.to_thread(self._delete, conversation_id)

    async def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(self._execute, sql, params)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the conversation store is closed")
        return self._db

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(_SCHEMA)
        self._db = db

    def _close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _execute(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    def _add_turn(
        self, conversation_id: str, messages: list[Message], info: dict[str, Any], started: float
    ) -> None:
        with self._lock:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                seq, turn = db.execute(
                    "SELECT (SELECT COALESCE(MAX(seq), -1) + 1 FROM messages"
                    " WHERE conversation = ?), (SELECT COALESCE(MAX(turn), -1) + 1"
                    " FROM turns WHERE conversation = ?)",
                    (conversation_id, conversation_id),
                ).fetchone()
                db.executemany(
                    "INSERT INTO messages VALUES (?, ?, ?, ?)",
                    [
                        (conversation_id, seq + i, turn, json.dumps(message_to_dict(m)))
                        for i, m in enumerate(messages)
                    ],
                )
                now = time.time()
                db.execute(
                    "INSERT INTO turns VALUES (?, ?, ?, ?, ?)",
                    (conversation_id, turn, started, now, json.dumps(info)),
                )
                db.execute(
                    "UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id)
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _delete(self, conversation_id: str) -> bool:
        with self._lock:
            cursor = self._connection().execute(
                "DELETE FROM conversations WHERE id = ?", (conversation_id,)
            )
            return cursor.rowcount > 0

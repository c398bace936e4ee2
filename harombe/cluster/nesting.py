"""How deeply a msgpack value nests, found without decoding it.

msgspec decodes nested arrays and maps recursively (skipping a `Raw` field too), so a frame
nested a hundred thousand levels deep makes it raise RecursionError, before any MAC is
checked. Frames are measured here first: `nesting_within(data, limit)` walks the encoding
item by item, with no recursion and no allocation per item, and most frames never reach the
walk at all: a value holding at most `limit` container headers cannot nest deeper than that,
and counting candidate header bytes is one C call.
"""

from __future__ import annotations

_FIXED = {0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}
_FIXED |= {0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8, 0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17}
_SIZED = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}
"""bin and str: bytes of the length that precedes the data."""
_EXT = {0xC7: 1, 0xC8: 2, 0xC9: 4}
"""ext: length bytes, then a type byte, then the data."""
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}
"""array16/32, map16/32: (bytes of the count, items per count)."""

_HEADERS = bytes([*range(0x80, 0xA0), *_CONTAINERS])
_NOT_HEADERS = bytes(b for b in range(256) if b not in _HEADERS)


def nesting_within(data: bytes, limit: int) -> bool:
    """Whether the msgpack value in `data` nests at most `limit` containers deep. Truncated
    or invalid encodings count as within (the decoder rejects them)."""
    if len(data.translate(None, _NOT_HEADERS)) <= limit:
        return True
    open_counts: list[int] = []  # items still to come in each enclosing container
    left = 1
    i, n = 0, len(data)
    while i < n:
        while left == 0:
            if not open_counts:
                return True
            left = open_counts.pop()
        b = data[i]
        left -= 1
        i += 1
        if b < 0x80 or b >= 0xE0:
            continue
        if b < 0xA0:
            count = (b & 0x0F) * (2 if b < 0x90 else 1)
        elif b < 0xC0:
            i += b & 0x1F
            continue
        elif b in _FIXED:
            i += _FIXED[b]
            continue
        elif b in _SIZED:
            width = _SIZED[b]
            i += width + int.from_bytes(data[i : i + width], "big")
            continue
        elif b in _EXT:
            width = _EXT[b]
            i += width + 1 + int.from_bytes(data[i : i + width], "big")
            continue
        elif b in _CONTAINERS:
            width, per = _CONTAINERS[b]
            count = int.from_bytes(data[i : i + width], "big") * per
            i += width
        else:
            return True  # 0xc1, never used: the decoder rejects it
        open_counts.append(left)
        left = count
        if len(open_counts) > limit:
            return False
    return True

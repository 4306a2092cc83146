"""What an audit entry's hash covers: a digest of its content built from the digests of its parts.

An entry's link in the chain is the SHA-256 of the previous entry's hash and this digest, not of the content's
bytes. The digest of a JSON value is built from its parts: an object's from its keys and the digests of their
values, an array's from the digests of its items, anything else from its canonical JSON. So a part can be
erased (a witness withdraws consent) and replaced by a **tombstone**, `{"digest": "<the part's digest>",
"erased": true, "erasure_seq": N}`, whose digest is the one it carries: the entry's digest, and with it every
link after it, stays what it was, and what was not erased is still checked byte for byte. `verify` accepts a
tombstone only when entry N is an erasure that names this entry (incidents.audit).

A tombstone keeps the SHA-256 of what it replaced: it tells nothing of it, but whoever holds the exact erased
value (a copy exported before) can match it, and an exact guess of a short value can be confirmed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

TOMBSTONE_KEYS = frozenset({"digest", "erased", "erasure_seq"})


def canonical_value(value: Any) -> str:
    """JSON with sorted keys, no spaces, UTF-8 as is (values as json.loads gives them)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def is_tombstone(value: Any) -> bool:
    """Whether value is what an erasure left in place of a part of an entry."""
    return isinstance(value, dict) and value.keys() == TOMBSTONE_KEYS and value["erased"] is True


def tombstone(value: Any, erasure_seq: int) -> dict[str, Any]:
    """What an erasure (entry erasure_seq) leaves in place of value: its digest, nothing of its content."""
    return {"digest": digest(value), "erased": True, "erasure_seq": erasure_seq}


def digest(value: Any, tombstones: list[dict[str, Any]] | None = None) -> str:
    """The digest of a JSON value (as json.loads gives it), a tombstone standing for what it replaced; the
    tombstones met are appended to `tombstones` when given."""
    if is_tombstone(value):
        if tombstones is not None:
            tombstones.append(value)
        return str(value["digest"])
    if isinstance(value, dict):
        parts = [b"{"]
        for key in sorted(value):
            parts += (canonical_value(key).encode(), digest(value[key], tombstones).encode())
    elif isinstance(value, list):
        parts = [b"[", *(digest(item, tombstones).encode() for item in value)]
    else:
        parts = [b"=", canonical_value(value).encode()]
    return hashlib.sha256(b"".join(parts)).hexdigest()


def content_digest(content: str, tombstones: list[dict[str, Any]] | None = None) -> str:
    """The digest of an entry's content (its JSON text)."""
    return digest(json.loads(content), tombstones)


def link_hash(previous_hash: str, digest_: str) -> str:
    """An entry's hash: the SHA-256 of the previous entry's hash and its own content's digest."""
    return hashlib.sha256(f"{previous_hash}\n{digest_}".encode()).hexdigest()


def parts_erased(value: Any, picked: Callable[[Any], bool], erasure_seq: int) -> Any:
    """value with every part `picked` chooses (looked for in objects and arrays, not inside tombstones)
    replaced by its tombstone: the same digest as value."""
    if is_tombstone(value):
        return value
    if picked(value):
        return tombstone(value, erasure_seq)
    if isinstance(value, dict):
        return {key: parts_erased(part, picked, erasure_seq) for key, part in value.items()}
    if isinstance(value, list):
        return [parts_erased(part, picked, erasure_seq) for part in value]
    return value

"""A built part of the gazetteer's index kept in a file, so that the next process reads it, not builds it.

The file is a cache and never trusted: it is used only when this code (FORMAT), this Python and this machine's
byte order wrote it, from the data file as it is now (path, size, modification time), when its content has
the digest written with it, and when that content has the shape of an index part. Otherwise, or on any error
reading it, the part is built again and the file replaced. It is written to a temporary file in the same
folder (0600, as mkstemp makes it; the folder 0700 if made here) and renamed over the old one, so that a
reader sees the old file or the new, never half of one; a folder that cannot be written to only means no
cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import marshal
import os
import sys
import tempfile
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from incidents import private_files

FORMAT = 1
_MAGIC = b"incidents gazetteer index\n"

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How a part goes to a tuple marshal can write, and back; unpack raises on content of the wrong shape."""

    pack: Callable[[T], tuple[Any, ...]]
    unpack: Callable[[Any], T]


def file_for(folder: Path, part: str) -> Path:
    return folder / f"gazetteer-{part}.cache"


def load(folder: Path, part: str, data: Path, codec: Codec[T]) -> T | None:
    """The part as cached from this data file, or None when there is no usable cache of it."""
    path = file_for(folder, part)
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    try:
        if not raw.startswith(_MAGIC):
            raise ValueError("it is not a cache file")
        header_end = raw.index(b"\n", len(_MAGIC))
        digest_end = raw.index(b"\n", header_end + 1)
        if json.loads(raw[len(_MAGIC) : header_end]) != _header(part, data):
            return None  # made by other code or from another data file: built again, quietly
        payload = memoryview(raw)[digest_end + 1 :]  # not a copy of megabytes
        if hashlib.blake2b(payload, digest_size=16).hexdigest().encode() != raw[header_end + 1 : digest_end]:
            raise ValueError("the content does not have its digest")
        return codec.unpack(marshal.loads(payload))  # noqa: S302 - the cache file save() wrote in our instance folder, its digest checked
    except Exception as error:  # whatever is wrong with a cache file, the index is built again
        log.warning("the gazetteer cache %s is not usable (%s): building the index again", path, error)
        return None


def save(folder: Path, part: str, data: Path, codec: Codec[T], value: T) -> None:
    """Write the part's cache file, atomically; a failure is logged, not raised."""
    path = file_for(folder, part)
    payload = marshal.dumps(codec.pack(value))
    header = json.dumps(_header(part, data), sort_keys=True).encode()
    digest = hashlib.blake2b(payload, digest_size=16).hexdigest().encode()
    temporary = None
    try:
        private_files.private_folder(folder)  # the instance folder, when it is not there yet
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(b"".join((_MAGIC, header, b"\n", digest, b"\n", payload)))
        os.replace(temporary, path)
    except OSError as error:
        log.warning("the gazetteer cache %s could not be written (%s)", path, error)
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


def _header(part: str, data: Path) -> dict[str, Any]:
    stat = data.stat()
    return {
        "format": FORMAT,
        "part": part,
        "python": sys.implementation.cache_tag,
        "marshal": marshal.version,
        "byteorder": sys.byteorder,
        "int_size": array("i").itemsize,
        "data": str(data.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }

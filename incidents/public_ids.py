"""An incident's public id: what its URL, its exports and the API call it.

The database numbers incidents in the order they are entered; a public URL with that number would tell
anyone, by its gaps, how many incidents are not published (drafts, incidents in review, retracted ones). The
public id is random instead: 12 characters, a letter first (so that it is never a number, which the routes
read as the old numbered URL), from an alphabet without look-alikes (no 0/o, 1/l/i), case-insensitive as
typed. 23 × 31¹¹ ≈ 5.8 × 10¹⁷ ids: among a million incidents the chance that two would draw the same one is
under one in a million, and the database's unique index refuses it if it happens (the save is refused and
can be made again; an import checks the ids it draws).
"""

from __future__ import annotations

import random
import re
import secrets

DIGITS = "23456789"
LETTERS = "abcdefghjkmnpqrstuvwxyz"
ALPHABET = DIGITS + LETTERS
LENGTH = 12
# The URL converter's pattern (web.routing): a letter, then 11 of the alphabet; typed in capitals it is
# found too (the converter lowers it).
PATTERN = f"[{LETTERS}{LETTERS.upper()}][{ALPHABET}{LETTERS.upper()}]{{{LENGTH - 1}}}"
_FULL = re.compile(PATTERN)


def new_public_id(rng: random.Random | None = None) -> str:
    """A fresh public id, from the system's secure random source (rng: a seeded one, for generated data)."""
    choice = rng.choice if rng is not None else secrets.choice
    return choice(LETTERS) + "".join(choice(ALPHABET) for _ in range(LENGTH - 1))


def is_public_id(value: object) -> bool:
    """Whether value is a public id as this code writes them (lower case)."""
    return isinstance(value, str) and value.islower() and _FULL.fullmatch(value) is not None

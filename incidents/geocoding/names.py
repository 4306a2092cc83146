"""Names as the gazetteer matches them: folded (no accents, case or punctuation), and regions also without
the kind word they carry ("Provincia de Huamanga" is found as "huamanga").
"""

from __future__ import annotations

import functools
import re
import unicodedata

# Admin names carry their kind ("Provincia de Huamanga", "Aurangabad Division") but people and sources mostly
# name the region alone, so regions are also found by the bare name. Folded forms.
# fmt: off
_REGION_PREFIXES = (
    "provincia de ", "provincia del ", "provincia di ", "provincia ", "province de la ", "province de l ",
    "province de ", "province des ", "province du ", "province d ", "province of ", "departamento de ",
    "departamento del ", "departamento ", "departement de la ", "departement de l ", "departement de ",
    "departement des ", "departement du ", "departement d ", "partido de ", "municipio de ", "municipio ",
    "distrito de ", "distrito ", "district of ", "regional district of ", "regional municipality of ",
    "region de ", "region del ", "canton de ", "comuna ", "city of ", "county of ", "politischer bezirk ",
    "bezirk ", "powiat ", "okres ", "nomos ", "muhafazat ", "mintaqat ", "baladiyat ", "changwat ", "amphoe ",
    "gemeente ", "obshtina ", "municipiul ", "oras ", "rrethi ", "kabupaten ", "kota ",
)
_REGION_SUFFIXES = (
    " district", " division", " province", " region", " county", " prefecture", " governorate",
    " municipality", " department", " rayonu", " rayon", " oblast", " regency", " parish", " shire",
    " voivodeship", " sheng",
)
# fmt: on


def _alternatives(words: tuple[str, ...]) -> str:
    # Longest first: the regex takes the first alternative that matches ("provincia de " before "provincia ").
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


_REGION_PREFIX = re.compile(rf"^(?:{_alternatives(_REGION_PREFIXES)})(?=.)")
_REGION_SUFFIX = re.compile(rf"(?<=.)(?:{_alternatives(_REGION_SUFFIXES)})$")

# Latin letters that NFKD does not split into base letter and mark, and the marks between words.
# fmt: off
_LETTERS = {
    "ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th",
    "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ı": "i", "ħ": "h", "Ħ": "h",
    "-": " ", "‐": " ", "–": " ", "—": " ", "_": " ", "/": " ", ".": "",
}
# fmt: on
_APOSTROPHES = "'’‘`ʻʼ´"
_DROP_APOSTROPHES = str.maketrans(_LETTERS | dict.fromkeys(_APOSTROPHES, ""))
_SPACE_APOSTROPHES = str.maketrans(_LETTERS | dict.fromkeys(_APOSTROPHES, " "))


def fold(text: str, *, apostrophes_to_space: bool = False) -> str:
    """The form names are matched in: no accents, case-folded, single spaces ("Apurímac" → "apurimac").

    Apostrophes are dropped, so "Ha`apai" meets "Haapai"; with apostrophes_to_space, French elisions split
    ("Departement d'Eure" → "departement d eure") so that the kind prefix can be taken off.
    """
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.translate(_SPACE_APOSTROPHES if apostrophes_to_space else _DROP_APOSTROPHES)
    return " ".join(text.casefold().split())


def strip_region_kind(folded: str) -> str:
    """ "provincia de huamanga" → "huamanga"; the name itself when it has no kind word or is nothing else."""
    return _REGION_SUFFIX.sub("", _REGION_PREFIX.sub("", folded, count=1), count=1)


@functools.lru_cache(maxsize=65536)
def region_forms(name: str) -> frozenset[str]:
    """Every form under which a region is found: the whole name and the name without its kind word."""
    if not name:
        return frozenset()
    folded = fold(name)
    forms = {folded, strip_region_kind(folded), strip_region_kind(fold(name, apostrophes_to_space=True))}
    return frozenset(form for form in forms if form)

"""Opening an uploaded or given file: is it text, is it UTF-8, is it JSON or CSV; CSV rows as a spreadsheet
numbers them (the header is row 1), with the HXL hashtag row recognised and skipped.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_SNIFF_BYTES = 64 * 1024
_CHUNK = 1024 * 1024

# Byte marks of files this importer cannot read, and what to tell the user.
_NOT_TEXT = [
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
]
_SAVE_AS_UTF8 = "Save it as UTF-8 (in a spreadsheet: “CSV UTF-8”) and import it again."

# A CSV field may hold a long narrative; csv's default limit (128 KiB) is raised, not removed.
csv.field_size_limit(min(sys.maxsize, 16 * 1024 * 1024))


class FileError(Exception):
    """The file as a whole cannot be imported; the message says why and what to do."""

    def __init__(self, message: str, row: int | None = None, column: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column


def sniff(path: Path) -> str:
    """ "json" or "csv", after refusing what is no UTF-8 text at all; FileError says why."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head.strip():
        raise FileError("The file is empty.")
    for mark, name in _NOT_TEXT:
        if head.startswith(mark):
            raise FileError(f"The file is {name} text. {_SAVE_AS_UTF8}")
    if head.startswith(b"PK\x03\x04"):
        raise FileError(
            f"This is an Excel workbook or another ZIP archive, not a CSV or JSON file. {_SAVE_AS_UTF8}"
        )
    if head.startswith(b"%PDF"):
        raise FileError("This is a PDF document, not a CSV or JSON file.")
    if b"\x00" in head:
        raise FileError(
            f"The file holds NUL bytes: it is not UTF-8 text (a binary file, or UTF-16). {_SAVE_AS_UTF8}"
        )
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if not text:
        raise FileError("The file is empty.")
    return "json" if text[:1] in (b"{", b"[") else "csv"


def check_utf8(path: Path, *, csv_rows: bool) -> None:
    """FileError naming the line (and, for CSV, the row) of the first byte that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    lines = 0
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                # The decoder's bytes begin with what it held back from the chunk before (the start of a
                # character cut by the chunk's end): positions count from there.
                decoded = error.object
                held = len(decoded) - len(chunk)
                bad = decoded[error.start] if error.start < len(decoded) else 0
                line = lines + decoded.count(b"\n", 0, error.start) + 1
                row = _row_at_line(path, line) if csv_rows else None
                where = f"row {row} (line {line})" if row is not None else f"line {line}"
                position = offset - held + error.start + 1
                raise FileError(
                    f"The file is not UTF-8: the byte 0x{bad:02X} at {where}, byte {position}, is not UTF-8 "
                    f"text (the file may be Latin-1 or Windows-1252). {_SAVE_AS_UTF8}",
                    row=row,
                ) from None
            if not chunk:
                return
            offset += len(chunk)
            lines += chunk.count(b"\n")


def _row_at_line(path: Path, line: int) -> int | None:
    """The CSV record (as a spreadsheet numbers rows) that spans a physical line."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        dialect, skipped = _start(handle)
        reader = csv.reader(handle, dialect)
        try:
            for number, _ in enumerate(reader, start=1):
                if reader.line_num + skipped >= line:
                    return number
        except csv.Error:
            return None
    return None


def _start(handle: IO[str]) -> tuple[type[csv.Dialect], int]:
    """The file's dialect, from its first line; the handle left where the header starts, and the lines
    passed over to get there (Excel's "sep=;" line is not a row: the header follows it, and Excel shows the
    header as row 1)."""
    first_line = handle.readline()
    separator = _separator_line(first_line)
    if separator is None:
        handle.seek(0)
        return _dialect(first_line), 0
    return _dialect(first_line, separator), 1


def _separator_line(line: str) -> str | None:
    """The delimiter of a "sep=;" line, which Excel writes (and reads) before the header; None if not one."""
    text = line.rstrip("\r\n")
    if len(text) == 5 and text[:4].lower() == "sep=" and text[4] in ",;\t|":
        return text[4]
    return None


def _dialect(first_line: str, given: str | None = None) -> type[csv.Dialect]:
    """Comma, semicolon (spreadsheets in many European locales) or tab, whichever the header uses most; the
    one given (by a "sep=" line) if any."""
    if given is not None:
        delimiter = given
    else:
        counts = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t")}
        delimiter = max(counts, key=lambda d: (counts[d], d == ","))

    class Dialect(csv.excel):
        pass

    Dialect.delimiter = delimiter
    return Dialect


def is_hxl_row(cells: list[str]) -> bool:
    """A row of HXL hashtags (#date+start, #geo+lat …): every non-empty cell a tag, at least one."""
    filled = [cell.strip() for cell in cells if cell.strip()]
    return bool(filled) and all(cell.startswith("#") and " " not in cell.strip() for cell in filled)


@dataclass
class CsvTable:
    """A CSV file's header, its HXL tags (if the second row holds them) and its data rows, streamed."""

    header: list[str]
    hxl: list[str] | None
    _reader: Iterator[list[str]]
    _text: IO[str]  # held here: the stream closes the file when it is dropped
    _raw: IO[bytes]
    _size: int
    _row: int

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number as a spreadsheet shows it, cells) for each data row; blank rows are passed over."""
        width = len(self.header)
        last: list[str] = []
        try:
            for cells in self._reader:
                self._row += 1
                if not any(cell.strip() for cell in cells):
                    continue
                last = cells
                if len(cells) < width:
                    cells = cells + [""] * (width - len(cells))
                yield self._row, cells
        except csv.Error as error:
            raise FileError(f"The CSV cannot be read past this row: {error}.", row=self._row + 1) from None
        if last and "\n" in last[-1] and self._ends_with(last[-1]):
            column = self.header[len(last) - 1] if len(last) <= width else ""
            raise FileError(
                'A quote (") opened in this row is never closed: every line after it, to the end of the '
                "file, was read as this one value. Close the quote, or double a quote meant as part of the "
                'text ("").',
                row=self._row,
                column=column,
            )

    def _ends_with(self, value: str) -> bool:
        """Whether the file ends with this value as it is, no closing quote after it: a quote never closed
        (csv reads one to the end of the file without a word)."""
        tail = value.rstrip("\r\n")[-64:]
        self._raw.seek(max(0, self._size - 4 * len(tail) - 8))
        end = self._raw.read().decode("utf-8", errors="replace").rstrip("\r\n")
        return bool(tail) and end.endswith(tail)

    @property
    def progress(self) -> tuple[int, int]:
        """Bytes read and the file's size."""
        if self._raw.closed:
            return self._size, self._size
        return min(self._raw.tell(), self._size), self._size

    def close(self) -> None:
        self._text.close()
        self._raw.close()


def open_csv(path: Path) -> CsvTable:
    """The header (row 1), the HXL row if row 2 is one, and a stream of the data rows after them."""
    raw = path.open("rb", buffering=0)
    try:
        text = io.TextIOWrapper(io.BufferedReader(raw, _CHUNK), encoding="utf-8-sig", newline="")
        dialect, _ = _start(text)
        reader = csv.reader(text, dialect)
        rows: Iterator[list[str]] = reader
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            raise FileError("The file is empty.") from None
        except csv.Error as error:
            raise FileError(f"The header row cannot be read: {error}.", row=1) from None
        if not any(header):
            raise FileError("The first row (the header) is empty: a CSV file needs column names.", row=1)
        row = 1
        hxl = None
        for cells in reader:
            row += 1
            if not any(cell.strip() for cell in cells):
                continue
            if is_hxl_row(cells):
                hxl = [cell.strip() for cell in cells] + [""] * (len(header) - len(cells))
                break
            # Not a tag row: it is the first data row. Put it back in front of the stream.
            rows = _prepend(cells, reader)
            row -= 1
            break
        return CsvTable(header, hxl, rows, text, raw, path.stat().st_size, row)
    except BaseException:
        raw.close()
        raise


def refuse_repeated(header: list[str], read: Iterable[str]) -> None:
    """A column the importer reads, named twice in the header (in any case): which one to read cannot be
    told, and the file is refused, naming both. Repeated columns it does not read are left alone."""
    wanted = {name.casefold() for name in read}
    seen: dict[str, int] = {}
    for number, name in enumerate(header, start=1):
        key = name.casefold()
        if not name or key not in wanted:
            continue
        first = seen.setdefault(key, number)
        if first != number:
            raise FileError(
                f"The header names two columns {name!r} (columns {first} and {number}): which one to read "
                "cannot be told. Rename or remove one.",
                row=1,
                column=name,
            )


def _prepend(first: list[str], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield first
    yield from rest

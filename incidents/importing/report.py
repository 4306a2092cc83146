"""What an import found and did: each problem by row and column, and the counts a user checks."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

# A file of 100,000 bad rows must not make a report of 100,000 lines: past this many errors, and this many
# warnings, the rest are counted. Apart: a thousand warnings (places not found) must not hide the one error.
MAX_PROBLEMS = 1000


class Severity(enum.StrEnum):
    ERROR = "error"  # the row (or file) cannot be imported as it is
    WARNING = "warning"  # the row is imported; something about it needs a look (a place not found, …)


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: where (row as a spreadsheet numbers it, the header being row 1; and column) and what."""

    row: int | None  # None: the file as a whole
    column: str  # the file's own column name; "" when the problem is not about one column
    message: str
    severity: Severity = Severity.ERROR
    whole_file: bool = False  # the file cannot be read (empty, not UTF-8, unknown format …): nothing imports

    def __str__(self) -> str:
        return self.describe("row")

    def describe(self, row_label: str) -> str:
        """ "row 12, latitude: …" as people read it; row_label names a record of JSON files ("record")."""
        where = "file" if self.row is None else f"{row_label} {self.row}"
        if self.whole_file:
            where = "file" if self.row is None else f"file, {row_label} {self.row}"
        if self.column:
            where += f", {self.column}"
        return (
            f"{where}: {self.message}"
            if self.severity == Severity.ERROR
            else f"{where}: warning: {self.message}"
        )


@dataclass
class ImportReport:
    """The outcome of a dry run or an import, as the CLI prints it and the import page shows it."""

    format: str = ""
    dataset: str = ""  # external_source of the incidents: "ucdp", "acled", "incidents", "csv:<name>"
    dry_run: bool = True
    skip_invalid: bool = False
    publish: bool = False
    submit: bool = False  # submitted for review (in review), not drafts
    row_label: str = "row"  # "row" for CSV; "feature" for GeoJSON; "record" for JSON
    rows: int = 0  # records read from the file
    created: int = 0  # incidents created (a dry run: that would be created)
    existing: int = 0  # records whose id is in the database already: nothing new
    existing_changed: int = 0  # of those, imported before from other content (not updated)
    invalid: int = 0  # records with errors
    skipped: int = 0  # invalid records left out on request (skip_invalid)
    sources_created: int = 0
    geocoded: int = 0
    reverse_geocoded: int = 0
    duplicates_flagged: int = 0
    kept_drafts: int = 0  # drafts in a staff export, left drafts by --publish
    kept_retracted: int = 0  # retracted in a staff export, kept retracted
    held_for_review: int = 0  # of a publishing import: possible duplicates left in review, not published
    committed: bool = False
    problems: list[Problem] = field(default_factory=list)
    problems_omitted: int = 0  # problems past MAX_PROBLEMS, counted but not listed
    error_count: int = 0
    warning_count: int = 0

    def add(self, problem: Problem) -> None:
        if problem.severity == Severity.ERROR:
            self.error_count += 1
            listed = self.error_count <= MAX_PROBLEMS
        else:
            self.warning_count += 1
            listed = self.warning_count <= MAX_PROBLEMS
        if listed:
            self.problems.append(problem)
        else:
            self.problems_omitted += 1

    @property
    def file_errors(self) -> list[Problem]:
        """Problems with the file as a whole (empty, not UTF-8, unknown format …): nothing can be imported."""
        return [p for p in self.problems if p.whole_file]

    @property
    def importable(self) -> bool:
        """Whether a real import of this file would write: no errors, or only row errors with skip_invalid."""
        if self.file_errors:
            return False
        return self.error_count == 0 or self.skip_invalid

    def summary(self, *, on_page: bool = False) -> list[str]:
        """Lines for people: what was read, what was (or would be) written, what needs a look.

        on_page: for the import page, where what a user can do is not the command's options: the lines name
        the page's own choices instead of --skip-invalid.
        """
        would = "would be " if self.dry_run or not self.committed else ""
        lines = [f"{self.rows} {self.row_label}s read ({self.format or 'unknown format'})."]
        if self.file_errors:
            lines.append("Nothing imported: the file cannot be read as it is.")
            return lines
        blocked = bool(self.error_count and not self.skip_invalid)
        if self.dry_run or not blocked:  # a real import that errors stopped: the errors' line says so
            lines.append(f"{self.created} incident(s) {would}created, {self.sources_created} new source(s).")
        lines += self._done_lines(would)
        if self.skipped:
            chosen = "as chosen" if on_page else "--skip-invalid"
            lines.append(f"{self.skipped} invalid {self.row_label}(s) left out ({chosen}).")
        if blocked:
            lines.append(self._errors_line(on_page))
        lines += self._closing_lines()
        return lines

    def _done_lines(self, would: str) -> list[str]:
        """The summary's lines on what the import found and did besides creating incidents."""
        lines = []
        if self.format == "csv":
            lines.append(f"Data set: {self.dataset} (a row imported into it before is known by its id).")
        if self.existing:
            lines.append(f"{self.existing} already imported before: nothing new for them.")
            if self.existing_changed:
                lines.append(
                    f"{self.existing_changed} of them differ from the version imported before: not updated "
                    "(each is a warning)."
                )
        if self.geocoded or self.reverse_geocoded:
            lines.append(
                f"{self.geocoded} place(s) geocoded from their names; "
                f"{self.reverse_geocoded} given admin regions from their coordinates."
            )
        if self.kept_drafts or self.kept_retracted:
            lines.append(
                f"Status kept as the file has it: {self.kept_drafts} draft(s), "
                f"{self.kept_retracted} retracted incident(s)."
            )
        if self.duplicates_flagged:
            lines.append(f"{self.duplicates_flagged} possible duplicate(s) {would}flagged for an editor.")
        if self.held_for_review:
            lines.append(
                f"{self.held_for_review} incident(s) flagged as possible duplicates {would}left in review, "
                "not published: confirm them distinct or merge them, then publish them."
            )
        return lines

    def _closing_lines(self) -> list[str]:
        """The summary's last lines: warnings, problems not listed, and nothing imported."""
        lines = []
        if self.warning_count:
            lines.append(f"{self.warning_count} warning(s).")
        if self.problems_omitted:
            lines.append(self.omitted_line)
        if not self.dry_run and not self.committed and self.importable:
            lines.append("Nothing was imported.")
        return lines

    @property
    def omitted_line(self) -> str:
        errors = max(0, self.error_count - MAX_PROBLEMS)
        warnings = max(0, self.warning_count - MAX_PROBLEMS)
        return (
            f"{self.problems_omitted} more problem(s) not listed ({errors} error(s), {warnings} warning(s)): "
            f"the first {MAX_PROBLEMS} errors and the first {MAX_PROBLEMS} warnings are."
        )

    def _errors_line(self, on_page: bool) -> str:
        """What the errors stop, and what to do: with the page's own controls, or the command's options."""
        errors = f"{self.error_count} error(s)"
        if not self.dry_run:
            valid = f", not even the {self.created} valid {self.row_label}(s)" if self.created else ""
            remedy = (
                "fix them in the file and upload it again"
                if on_page
                else "fix them (or use --skip-invalid to import the valid rows only)"
            )
            return f"Nothing was imported because of the {errors} listed{valid}: {remedy}."
        if not on_page:
            return (
                f"{errors}: nothing will be imported until they are fixed "
                "(or use --skip-invalid to import the valid rows only)."
            )
        if self.created:  # the page's form offers to import the valid rows only, with this label
            return (
                f"{errors}: nothing will be imported until they are fixed in the file, unless you tick "
                f"“Import the {self.created} valid {self.row_label}s only” below."
            )
        return f"{errors}: nothing can be imported until they are fixed in the file and it is uploaded again."

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, to keep a report beside an upload until the editor confirms it."""
        data = dataclasses.asdict(self)
        data["problems"] = [
            {
                "row": p.row,
                "column": p.column,
                "message": p.message,
                "severity": p.severity.value,
                "whole_file": p.whole_file,
            }
            for p in self.problems
        ]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        values = dict(data)
        problems = values.pop("problems", [])
        report = cls(**values)
        report.problems = [
            Problem(p["row"], p["column"], p["message"], Severity(p["severity"]), p["whole_file"])
            for p in problems
        ]
        return report

"""Importing a file in bulk: read, geocode, validate, write, flag possible duplicates, report.

`import_file` runs one import (or dry run) as one transaction; the file formats are read by
incidents.importing.
"""

from incidents.services.imports.pipeline import ImportOptions, import_file

__all__ = ["ImportOptions", "import_file"]

"""Reading import files: UCDP GED (CSV or GeoJSON), ACLED, any CSV by a column mapping, and our own JSON
export. Each record is read into schema input, geocoded where asked and checked through IncidentInputSchema,
with its problems named by row and column; services.imports writes what passes.
"""

"""Exports: a selection of incidents, serialized for an audience, streamed as JSON, GeoJSON or CSV.

The read side of incidents' records: reading rows in batches (reader), the public and staff records
(serialize), the stored records an export streams (stored), the flat rows of CSV and GeoJSON (flat), and the
formats' writers (formats).
"""

"""Read models: what a page, the API or an export reads, for an audience (the public, or staff).

Each takes the filters a URL carries and gives rows or records; nothing here changes data.
"""

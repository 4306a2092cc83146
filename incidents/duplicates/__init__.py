"""Possible duplicates: incidents of a type a few days and kilometres apart, flagged for an editor.

Found on import and on every save from the entry form; an editor confirms them distinct or merges them.
Nothing is merged without an editor.
"""

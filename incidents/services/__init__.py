"""The application's operations: every change to data takes one of these roads, whatever the channel.

A service loads its input through the schemas (a ValidationError names the field and the problem), applies
the rules, flushes, refreshes the derived data (incidents.derived) and returns; it never commits. The web
views, the API, the command line, the import jobs and the demo loader call them and commit once.
"""

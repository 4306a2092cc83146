"""Saves based on an older version of an incident are refused, whatever the channel."""

from __future__ import annotations

MISSING_VERSION = "Give the version you read, so that no one's change is lost."


class EditConflict(Exception):
    """Someone saved the incident after this editor read it: the save is refused, nothing is lost."""

    def __init__(self, incident_id: int) -> None:
        super().__init__(f"incident {incident_id} was changed by someone else")
        self.incident_id = incident_id

"""Refused attempts, kept in the audit trail beside the changes: who tried what, and why it was refused."""

from __future__ import annotations

from incidents import audit
from incidents.audit import Actor
from incidents.extensions import db


def record_refusal(
    actor: Actor, operation: str, target_type: str, target_id: int | None, message: str
) -> None:
    """Write the refused attempt (after the caller rolled the attempt itself back); the caller commits."""
    audit.record(
        db.session.connection(),
        actor,
        f"{operation}.refused",
        target_type,
        target_id,
        reason=message,
    )

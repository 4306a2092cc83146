"""The publication workflow: draft → in review → published → retracted, and who may move an incident.

Editors draft and submit; reviewers (and admins) send back with a comment, publish and retract, each with a
reason. Publishing needs a reviewer who is not the incident's last editor (an admin may override, and the
history says so) and no open possible-duplicate flag. A published or retracted incident is corrected only by
a reviewer or an admin, with a reason (shown to the public as a correction when a figure changed). The
command line is the operator's: it may do what an admin may, and the history says it was the command line.

Every channel (the incident page, the API, imports, merges) goes through `transition` and the checks here;
a refusal is a WorkflowRefused with the HTTP status it answers to (403: the role may not; 409: not from
this state) and a message naming what to do instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.orm.exc import StaleDataError

from incidents import audit
from incidents.audit import Actor, Channel
from incidents.extensions import db
from incidents.models import DuplicateFlag, Incident
from incidents.services.conflicts import MISSING_VERSION, EditConflict
from incidents.services.refresh import before_change, refresh
from incidents.vocabulary import DuplicateStatus, PublicationStatus

DRAFT, IN_REVIEW, PUBLISHED, RETRACTED = (
    PublicationStatus.DRAFT,
    PublicationStatus.IN_REVIEW,
    PublicationStatus.PUBLISHED,
    PublicationStatus.RETRACTED,
)
REASON_LENGTH = 2000


@dataclass(frozen=True)
class Transition:
    name: str  # the operation, as the history and the API name it
    label: str  # the button
    review: bool  # a reviewer's move (else any staff)
    reason: bool  # a reason is required


TRANSITIONS: dict[tuple[PublicationStatus, PublicationStatus], Transition] = {
    (DRAFT, IN_REVIEW): Transition("submit", "Submit for review", review=False, reason=False),
    (IN_REVIEW, DRAFT): Transition("send_back", "Send back to draft", review=True, reason=True),
    (IN_REVIEW, PUBLISHED): Transition("publish", "Publish", review=True, reason=True),
    (PUBLISHED, RETRACTED): Transition("retract", "Retract", review=True, reason=True),
}
# What a new incident may start as, whoever makes it: publishing is a reviewer's later step.
INITIAL = (DRAFT, IN_REVIEW)


class WorkflowRefused(Exception):
    """A move or an edit the workflow does not allow; status is the HTTP status it answers to."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class NotAllowed(WorkflowRefused):
    """The account's role may not do this (403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 403)


class NotNow(WorkflowRefused):
    """Not from the incident's present state (409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 409)


def is_operator(actor: Actor) -> bool:
    """The command line without an account: whoever runs it runs the server, and may what an admin may."""
    return actor.user is None and actor.channel in (Channel.CLI, Channel.SYSTEM)


def may_review(actor: Actor) -> bool:
    return is_operator(actor) or (actor.user is not None and actor.user.can_review)


def is_admin(actor: Actor) -> bool:
    return is_operator(actor) or (actor.user is not None and actor.user.is_admin)


def moves_from(incident: Incident, actor: Actor) -> list[tuple[PublicationStatus, Transition]]:
    """The moves this actor may offer from the incident's state (the page's buttons)."""
    return [
        (to, move)
        for (start, to), move in TRANSITIONS.items()
        if start == incident.status and (may_review(actor) or not move.review)
    ]


def check_initial(status: PublicationStatus) -> None:
    """A new incident is a draft, or submitted for review."""
    if status not in INITIAL:
        raise NotAllowed(
            f"A new incident is a draft or in review, not {status.label}: publishing is a reviewer's step, "
            "once the incident is saved (and by another account than the one that saved it)."
        )


def check_edit(incident: Incident, actor: Actor, status: PublicationStatus, reason: str) -> None:
    """May this actor change the incident's content now? The status the edit carries must be the one it
    has (a change of status is a transition), and a published or retracted incident is corrected only by a
    reviewer, with a reason."""
    if status != incident.status:
        raise NotNow(
            f"The incident is {incident.status.label}; a save does not change that. Changing its status to "
            f"{status.label} is a step of the workflow of its own (the buttons on its page, or POST "
            f"/api/v1/incidents/{incident.id}/transitions)."
        )
    if incident.status in (PUBLISHED, RETRACTED):
        if not may_review(actor):
            raise NotAllowed(
                f"A {incident.status.label} incident is corrected by a reviewer or an admin: ask one, or "
                "note the correction in a draft."
            )
        if not reason.strip():
            raise ValidationError(
                {"reason": [f"Say why this {incident.status.label} incident changes: it is public record."]}
            )


def transition(
    incident: Incident,
    to: PublicationStatus,
    actor: Actor,
    *,
    reason: str = "",
    version: int | None,
    override: bool = False,
) -> Incident:
    """Move the incident to the status `to`, after every check; written to the history with the reason."""
    move = _allowed_move(incident, to, actor, reason=reason, override=override)
    if version is None:
        raise ValidationError({"version": [MISSING_VERSION]})
    incident_id, start = incident.id, incident.status
    if version != incident.version:
        raise EditConflict(incident_id)
    before = before_change([incident_id])
    incident.status = to
    try:
        db.session.flush()
    except StaleDataError:
        raise EditConflict(incident_id) from None
    refresh([incident_id], before)
    overridden = override and move.name == "publish" and _is_last_editor(incident, actor)
    audit.record(
        db.session.connection(),
        actor,
        f"incident.{move.name}",
        "incident",
        incident_id,
        changes={"status": [start.value, to.value]},
        reason=reason.strip(),
        details={"override": "an admin published their own change"} if overridden else None,
    )
    return incident


def _allowed_move(
    incident: Incident, to: PublicationStatus, actor: Actor, *, reason: str, override: bool
) -> Transition:
    start = incident.status
    move = TRANSITIONS.get((start, to))
    if move is None:
        possible = ", ".join(t.label.lower() for (s, _), t in TRANSITIONS.items() if s == start) or "none"
        raise NotNow(f"A {start.label} incident cannot become {to.label} (from {start.label}: {possible}).")
    if move.review and not may_review(actor):
        raise NotAllowed(f"{move.label} is a reviewer's step: an editor submits the incident for review.")
    if move.reason and not reason.strip():
        raise ValidationError({"reason": [f"Say why ({move.label.lower()}): the history keeps it."]})
    if len(reason) > REASON_LENGTH:
        raise ValidationError({"reason": [f"At most {REASON_LENGTH} characters."]})
    if move.name == "publish":
        _check_publishable(incident, actor, override=override)
    return move


def _is_last_editor(incident: Incident, actor: Actor) -> bool:
    return actor.user is not None and incident.updated_by_id == actor.user.id


def _check_publishable(incident: Incident, actor: Actor, *, override: bool) -> None:
    if _is_last_editor(incident, actor) and not (override and is_admin(actor)):
        raise NotAllowed(
            "You made the last change to this incident: another reviewer publishes it, so that every "
            "published record was read by a second person."
            + (" As an admin you may override this, and the history will say so." if is_admin(actor) else "")
        )
    flagged = db.session.scalar(
        sa.select(DuplicateFlag)
        .where(
            DuplicateFlag.status == DuplicateStatus.OPEN,
            sa.or_(DuplicateFlag.incident_id == incident.id, DuplicateFlag.candidate_id == incident.id),
        )
        .order_by(DuplicateFlag.id)
        .limit(1)
    )
    if flagged is not None:
        other = flagged.other(incident.id)
        raise NotNow(
            f"This incident may be a duplicate of incident {other.public_id} (“{other.title}”): confirm them "
            "distinct or merge them on its page before publishing, or the event may be counted twice."
        )


def role_may_import_published(actor: Actor) -> bool:
    """Only a reviewer (or an admin, or the operator) imports straight to published."""
    return may_review(actor)

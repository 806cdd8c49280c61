"""People in the loop: a robot asks a person and waits (`ctx.ask`), keeps what it has done
across the wait (`ctx.remember`), or hands the item to people (`ctx.hand_over`, manuell
behandling), as UiPath's Action Center, Prefect's `pause_flow_run(wait_for_input=...)` and
Temporal's signals do, and as forvaltningsloven §§ 11-13 require where a case cannot be
decided automatically.

The rule a task author follows: when an item resumes after an answer, the task function runs
again from the top. `ctx.remember(key, fn)` gives back what `fn` returned the first time
(stored as JSON, per item and key) instead of running it again, and `ctx.ask(...)` gives back
the answer; everything else runs again, so it must be safe to repeat (look before you act, as
every step must be anyway). Questions are keyed by their order in the task (or a key of their
own), so a task must ask the same questions in the same order on every run of the item.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from robots import audit
from robots.masking import mask, mask_text
from robots.models import (
    FINAL_STATUSES,
    Acknowledgement,
    ItemStatus,
    Question,
    StepResult,
    WorkItem,
    utcnow,
)
from robots.storable import storable, storable_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from robots.db import Database

M = TypeVar("M", bound=BaseModel)


class WaitingForPerson(BaseException):  # noqa: N818 - a signal to the worker, not an error
    """Raised by ctx.ask when the answer is not there yet: the worker settles the run as
    `waiting` and the item waits (status waiting_for_person) holding no worker or browser.
    A BaseException so that a task's `except Exception` does not swallow it."""

    def __init__(self, question_id: int, text: str) -> None:
        super().__init__(text)
        self.question_id = question_id
        self.text = text


class HandOver(BaseException):  # noqa: N818 - a signal to the worker, not an error
    """Raised by ctx.hand_over: the item goes to a team's queue for manual handling."""

    def __init__(self, reason: str, team: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.team = team


class AnswerRefused(ValueError):
    """The answer does not fit the question's model, or the question is no longer open.
    `status`: the HTTP status that says so when there are no field errors (409: answered)."""

    status = 409

    def __init__(self, message: str, errors: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class AnswerTooLate(AnswerRefused):
    """The question's deadline has passed and it closed (or closes now): gone for good."""

    status = 410


WITHDRAWN = (
    "Saken venter ikke lenger på svar (den er avbrutt eller sendt til manuell behandling); "
    "svaret er ikke lagret."
)

TOO_LATE = (
    "Fristen for å svare på spørsmålet har gått ut. Svaret er ikke lagret, og elementet er "
    "avsluttet som forretningsfeil."
)


def model_path(model: type[BaseModel]) -> str:
    return f"{model.__module__}:{model.__qualname__}"


def load_model(path: str) -> type[BaseModel]:
    module, _, name = path.partition(":")
    found = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    if not (isinstance(found, type) and issubclass(found, BaseModel)):
        raise TypeError(f"{path} is not a pydantic model")
    return found


def ask(
    db: Database,
    item_id: int,
    run_id: int,
    key: str,
    model: type[M],
    *,
    text: str,
    to: str,
    deadline: datetime | None,
    on_deadline: str,
    evidence: dict[str, Any] | None,
) -> tuple[M, str]:
    """The answer to the item's question `key` and who gave it, if a person has; otherwise
    the question is recorded (once) and WaitingForPerson is raised."""
    with db.session() as session:
        question = session.scalars(
            select(Question).where(Question.item_id == item_id, Question.key == key)
        ).first()
        if question is None:
            question = Question(
                item_id=item_id,
                run_id=run_id,
                key=key,
                model=model_path(model),
                text=storable_text(mask_text(text))[:2000],
                to_role=to,
                evidence=storable(mask(evidence)) if evidence else None,
                deadline=deadline,
                on_deadline=on_deadline,
                status="open",
            )
            session.add(question)
            session.flush()
        elif question.status == "answered":
            return model.model_validate(question.answer or {}), question.answered_by or "?"
        elif question.status == "withdrawn":  # asked again after a retry: open once more
            question.status = "open"
        question_id = question.id
    raise WaitingForPerson(question_id, text)


def remember(db: Database, item_id: int, run_id: int, key: str, action: Callable[[], Any]) -> Any:
    """What `action` returned for this item and key before, or its result now (stored)."""
    import json

    with db.session() as session:
        kept = session.scalars(
            select(StepResult).where(StepResult.item_id == item_id, StepResult.key == key)
        ).first()
        if kept is not None:
            return (kept.value or {}).get("value")
    value = action()
    safe = json.loads(json.dumps({"value": value}, default=str))
    with db.session() as session:
        session.add(StepResult(item_id=item_id, key=key, value=safe, run_id=run_id))
    return safe["value"]


def expire_overdue(db: Database, now: datetime | None = None) -> list[int]:
    """Questions whose deadline has passed and whose task said `on_deadline="business_error"`:
    the question closes and the item ends as a business error saying so. (Questions that
    escalate stay open; the alert rule `question_overdue` tells the operators.) Returns the
    items ended."""
    now = now or utcnow()
    ended = []
    with db.session() as session:
        overdue = session.scalars(
            select(Question).where(
                Question.status == "open",
                Question.deadline < now,
                Question.on_deadline == "business_error",
            )
        ).all()
        for question in overdue:
            item_id = _expire(session, question, now)
            if item_id is not None:
                ended.append(item_id)
    return ended


def _overdue(question: Question, now: datetime) -> bool:
    """Past a deadline that closes the question (one that escalates stays answerable)."""
    return (
        question.deadline is not None
        and question.deadline < now
        and question.on_deadline == "business_error"
    )


def _expire(session: Session, question: Question, now: datetime) -> int | None:
    """Close an overdue question and end its waiting item as a business error; the item's id
    if it ended."""
    question.status = "expired"
    item = session.get(WorkItem, question.item_id, with_for_update=True)
    if item is None or item.status != ItemStatus.WAITING:
        return None
    item.status = ItemStatus.BUSINESS_ERROR
    item.error_kind = "business"
    item.error_message = f"Ingen svar på «{question.text[:200]}» innen fristen"
    item.finished_at = item.updated_at = now
    audit.record(session, "system", "question_expired", f"item:{item.id}")
    return item.id


def acknowledge(db: Database, key: str, status: str, until: date | None, actor: str) -> None:
    """Record a person's answer to a reminder (the last answer counts), audited."""
    with db.session() as session:
        record_acknowledgement(session, key, status, until, actor)


def record_acknowledgement(
    session: Session, key: str, status: str, until: date | None, actor: str
) -> None:
    """`acknowledge` in the caller's transaction (with the link it came through marked used)."""
    if status not in ("gjennomfort", "utsatt") or (status == "utsatt" and until is None):
        raise AnswerRefused("Velg gjennomført, eller utsatt med en dato")
    found = session.scalars(select(Acknowledgement).where(Acknowledgement.key == key)).first()
    if found is None:
        found = Acknowledgement(key=key, status=status, until=until, by=actor)
        session.add(found)
    else:
        found.status, found.until, found.by, found.at = status, until, actor, utcnow()
    audit.record(
        session,
        actor,
        "acknowledge",
        f"reminder:{key[:180]}",
        {"status": status, "until": until.isoformat() if until else None},
    )


def acknowledgement(db: Database, key: str) -> tuple[str, date | None] | None:
    with db.session() as session:
        found = session.scalars(select(Acknowledgement).where(Acknowledgement.key == key)).first()
        return (found.status, found.until) if found is not None else None


def answer(db: Database, question_id: int, values: dict[str, Any], actor: str) -> Question:
    """Record a person's answer (validated against the question's model, audited, masked in
    the audit trail) and put the item back in the queue to resume. A second answer, an
    answer with a field the model does not have, and an answer after a deadline that closes
    the question are refused; the last closes it at once (as the sweep would) rather than
    wait for the sweep."""
    now = utcnow()
    with db.session() as session:
        question = session.get(Question, question_id, with_for_update=True)
        if question is None:
            raise LookupError(f"Fant ikke spørsmål {question_id}")
        if question.status == "expired":
            raise AnswerTooLate(TOO_LATE)
        if question.status == "withdrawn":
            raise AnswerRefused(WITHDRAWN)
        if question.status != "open":
            raise AnswerRefused("Spørsmålet er allerede besvart")
        item = session.get(WorkItem, question.item_id)
        if item is None or item.status in FINAL_STATUSES or item.status == ItemStatus.MANUAL:
            # cancelled or handed to people meanwhile: an answer would change nothing
            question.status = "withdrawn"
            session.flush()
            refused = AnswerRefused(WITHDRAWN)
        elif not _overdue(question, now):
            return _record(session, question, values, actor, now)
        else:
            _expire(session, question, now)  # committed before the refusal is raised
            refused = AnswerTooLate(TOO_LATE)
    raise refused


def _record(
    session: Session, question: Question, values: dict[str, Any], actor: str, now: datetime
) -> Question:
    model = load_model(question.model)
    unknown = sorted(set(values) - set(model.model_fields))
    if unknown:
        errors = [(mask_text(key[:100]), "ukjent felt") for key in unknown]
        raise AnswerRefused("Svaret passer ikke med spørsmålet", errors)
    try:
        given = model.model_validate(values)
    except ValidationError as exc:
        from robots.tasks import _norwegian

        errors = [
            (".".join(str(p) for p in e["loc"]) or "(hele)", _norwegian(e)) for e in exc.errors()
        ]
        raise AnswerRefused("Svaret passer ikke med spørsmålet", errors) from None
    question.answer = storable(given.model_dump(mode="json"))
    question.status = "answered"
    question.answered_by = actor
    question.answered_at = now
    item = session.get(WorkItem, question.item_id, with_for_update=True)
    if item is not None and item.status == ItemStatus.WAITING:
        item.status = ItemStatus.PENDING
        item.not_before = item.updated_at = now
    audit.record(
        session,
        actor,
        "answer",
        f"item:{question.item_id}",
        {"question": question.id, "answer": question.answer},
    )
    return question

"""What a person does through the console, shared by the pages and the JSON API: submit (with a
file where the task takes one), retry and cancel an item, pause and resume, change or run a
schedule. Each checks the role, goes through the queue (which audits it), and turns the queue's
refusals into HTTP answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException
from sqlalchemy import select

from robots import audit
from robots.console.auth import Principal, can
from robots.console.deps import Console, Forbidden, own_submitters, require, visible_submitters
from robots.models import ItemStatus, Schedule, utcnow
from robots.queue import InvalidTransition, ItemNotFound, Submitted
from robots.tasks import Task
from robots.views import Audience, ItemView, NotFound, audience_for, questions


def audience(c: Console, who: Principal) -> Audience | None:
    """Whose questions and manual items a person sees: operators (and admins) every one, as
    they run the fleet; anyone else those on items they submitted and those addressed to a
    team that `question_teams` lists them in (a role's name is a team only when listed there)."""
    return audience_for(
        c.rpa.settings, who.username, can(who.role, "all_items"), own_submitters(who)
    )


def in_manual_queue(c: Console, who: Principal, item: ItemView) -> bool:
    """Whether the item waits in a manual queue this person works (their team's, or their own
    item's)."""
    seen = audience(c, who)
    return item.status == ItemStatus.MANUAL and (
        seen is None or item.team in seen.teams or item.submitted_by in seen.submitters
    )


def visible_item(c: Console, who: Principal, item_id: int) -> ItemView:
    """The item if this person may see it (theirs, or in their team's manual queue); 404
    otherwise (not 403: whether it exists is not theirs to know)."""
    try:
        return c.rpa.views.item(item_id, visible_submitters(who))
    except NotFound as exc:
        if can(who.role, "manual"):
            try:
                found = c.rpa.views.item(item_id)
            except NotFound:
                found = None
            if found is not None and in_manual_queue(c, who, found):
                return found
        raise HTTPException(404, str(exc)) from None


def shown_input(c: Console, who: Principal, item: ItemView) -> Any:
    """The item's input as this person may see it: in clear for the roles in
    `personal_data_roles` (each look audited), else with personal data masked."""
    if who.role not in c.rpa.settings.personal_data_roles:
        return item.payload
    opened = c.rpa.views.item_input(item.id)
    with c.rpa.db.session() as session:
        audit.record(session, who.actor, "reveal", f"item:{item.id}", {"task": item.task})
    return opened


def may_retry(who: Principal, item: ItemView) -> bool:
    return item.retryable and (can(who.role, "retry") or can(who.role, "retry_own"))


def may_cancel(who: Principal, item: ItemView) -> bool:
    return item.cancellable and can(who.role, "cancel")


def reason(who: Principal, item: ItemView) -> str:
    """Why the item is where it is, in words for the person asking: a business error's own
    reason (written for caseworkers); a technical error only as "Teknisk feil" to those who
    cannot do anything about it, with the detail to those who diagnose."""
    if not item.error:
        return ""
    if item.error_kind in ("business", "cancelled", "manual") or can(who.role, "runs"):
        return item.error
    return "Teknisk feil – driftsavdelingen er varslet og ser på saken."


def item_context(c: Console, who: Principal, item: ItemView) -> dict[str, Any]:
    """What the item page (and its live part) shows."""
    runs = c.rpa.views.item_runs(item.id)
    return {
        "item": item,
        "reason": reason(who, item),
        "runs": runs,
        "run_links": can(who.role, "runs"),
        "result": result_rows(c, item),
        "may_retry": may_retry(who, item),
        "may_cancel": may_cancel(who, item),
        "may_hand_over": can(who.role, "cancel")
        and item.status in ("pending", "waiting_for_person", "failed", "business_error"),
        "questions": questions(c.rpa.views, audience=None, item=item.id),
    }


def result_rows(c: Console, item: ItemView) -> list[tuple[str, str, str]]:
    """The result as (label, text, link) rows; a value that is a web address is a link."""
    if not isinstance(item.result, dict):
        return []
    rows = []
    for key, value in item.result.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        link = text if text.startswith(("http://", "https://")) else ""
        rows.append((RESULT_LABELS.get(str(key), str(key)), text, link))
    return rows


RESULT_LABELS = {
    "journalpost": "Journalpost",
    "status": "Status",
    "fil": "Fil",
    "found": "Funnet",
    "queued": "Lagt i kø",
    "open_items": "Åpne punkter på sjekklisten",
    "mail": "E-post",
    "side_effects": "Allerede utført",
}


def act(c: Console, who: Principal, item_id: int, action: str) -> ItemView:
    """Retry or cancel an item the person can see."""
    item = visible_item(c, who, item_id)
    if action == "retry":
        if not (can(who.role, "retry") or can(who.role, "retry_own")):
            raise Forbidden()
        _transition(lambda: c.rpa.queue.retry(item.id, who.actor))
    elif action == "cancel":
        require(who, "cancel")
        _transition(lambda: c.rpa.queue.cancel(item.id, who.actor))
    else:
        raise HTTPException(404, "Ukjent handling")
    return c.rpa.views.item(item.id)


def _transition(action: Callable[[], Any]) -> None:
    try:
        action()
    except InvalidTransition as exc:
        raise HTTPException(409, str(exc)) from None
    except ItemNotFound as exc:
        raise HTTPException(404, str(exc)) from None


def store_upload(c: Console, task: Task, filename: str, content: bytes) -> dict[str, str]:
    """A file attached to a submission goes where the task keeps its files (the task's own
    `upload` hook: the console knows nothing of inboxes); its fields join the payload."""
    if task.upload is None:
        raise HTTPException(422, f"Oppgaven {task.name} tar ikke imot filer")
    try:
        return task.upload.store(c.rpa.settings, filename, content)
    except FileExistsError as exc:
        raise HTTPException(409, str(exc)) from None


def submit(
    c: Console, who: Principal, task: Task, reference: str, payload: dict[str, Any], priority: int
) -> Submitted:
    if priority > 0:
        require(who, "prioritise")  # jumping the queue is an operator's decision
    c.require_start(who, task)
    return c.rpa.queue.submit(
        task.name, reference, payload, priority=priority, submitted_by=who.actor
    )


def check_pausable(c: Console, kind: str, name: str) -> None:
    """Only a known task or system can be paused (a typo must not look like a pause)."""
    registry = c.rpa.registry
    if kind not in ("task", "system"):
        raise HTTPException(422, "Bare en oppgave (task) eller et system kan settes på pause")
    known = set(registry) if kind == "task" else {s for t in registry.values() for s in t.systems}
    if name not in known:
        what = "oppgave" if kind == "task" else "system"
        raise HTTPException(404, f"Ukjent {what} {name!r}")


def pause(c: Console, who: Principal, kind: str, name: str, *, resume: bool = False) -> None:
    require(who, "pause")
    check_pausable(c, kind, name)
    if resume:
        c.rpa.queue.resume(kind, name, who.actor)
    else:
        c.rpa.queue.pause(kind, name, who.actor)


def paused(c: Console) -> list[dict[str, str]]:
    return [{"kind": p.kind, "name": p.name, "by": p.paused_by} for p in c.rpa.queue.paused()]


def schedule_action(c: Console, who: Principal, name: str, action: str) -> dict[str, Any]:
    """Turn a schedule on or off (audited), or run it once now (an item like its firings, with a
    reference of its own)."""
    require(who, "schedules")
    with c.rpa.db.session() as session:
        schedule = session.scalars(select(Schedule).where(Schedule.name == name)).first()
        if schedule is None:
            raise HTTPException(404, "Fant ikke tidsplanen")
        if action in ("aktiver", "deaktiver"):
            schedule.enabled = action == "aktiver"
            schedule.updated_at = utcnow()
            audit.record(
                session,
                who.actor,
                "schedule_change",
                f"schedule:{name}",
                {"enabled": schedule.enabled},
            )
            return {"name": name, "enabled": schedule.enabled}
        if action != "kjor":
            raise HTTPException(404, "Ukjent handling")
        task, payload, priority = schedule.task, schedule.payload, schedule.priority
    stamp = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    submitted = c.rpa.queue.submit(
        task, f"{name}@manuell-{stamp}", payload, priority=priority, submitted_by=who.actor
    )
    return {"name": name, "item": submitted.item.id}


def audit_view(c: Console, who: Principal, target: str) -> None:
    """Looking at a run or an artifact is itself in the audit trail."""
    with c.rpa.db.session() as session:
        audit.record(session, who.actor, "view", target)

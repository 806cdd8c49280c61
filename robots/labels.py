"""What people read instead of codes: bokmål names of statuses, run outcomes, roles and audit
actions, in one place for the CLI, the console and the reports (the codes stay in the database,
the API and the logs)."""

from __future__ import annotations

from robots.models import ItemStatus, RunOutcome

STATUS: dict[str, str] = {
    ItemStatus.PENDING: "venter",
    ItemStatus.RUNNING: "kjører",
    ItemStatus.DONE: "ferdig",
    ItemStatus.BUSINESS_ERROR: "forretningsfeil",
    ItemStatus.FAILED: "feilet",
    ItemStatus.CANCELLED: "avbrutt",
}

OUTCOME: dict[str, str] = {
    RunOutcome.DONE: "ferdig",
    RunOutcome.BUSINESS_ERROR: "forretningsfeil",
    RunOutcome.SYSTEM_ERROR: "teknisk feil",
    RunOutcome.ABANDONED: "forlatt (arbeideren stoppet)",
    RunOutcome.RELEASED: "levert tilbake",
    RunOutcome.LOST: "tatt over av en annen arbeider",
}

ROLE = {
    "caseworker": "saksbehandler",
    "operator": "driftsoperatør",
    "auditor": "revisor",
    "admin": "administrator",
}

ACTION = {
    "submit": "sendt inn",
    "retry": "prøvd på nytt",
    "cancel": "avbrutt",
    "pause": "satt på pause",
    "resume": "startet igjen",
    "login": "logget inn",
    "login_failed": "mislykket innlogging",
    "login_locked": "innlogging sperret",
    "user_add": "bruker lagt til",
    "token_add": "API-nøkkel laget",
    "view": "sett",
    "export": "eksportert",
    "verify": "revisjonsspor kontrollert",
    "retention": "gamle logger slettet",
    "schedule_change": "tidsplan endret",
    "schedule_create": "tidsplan opprettet",
    "demo": "demo",
}


def status_name(status: str) -> str:
    return STATUS.get(status, status)


def outcome_name(outcome: str | None) -> str:
    return OUTCOME.get(outcome, outcome) if outcome else "pågår"


def role_name(role: str) -> str:
    return ROLE.get(role, role)


def action_name(action: str) -> str:
    return ACTION.get(action, action)

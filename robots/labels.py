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
    ItemStatus.WAITING: "venter på saksbehandler",
    ItemStatus.MANUAL: "manuell behandling",
}

OUTCOME: dict[str, str] = {
    RunOutcome.DONE: "ferdig",
    RunOutcome.BUSINESS_ERROR: "forretningsfeil",
    RunOutcome.SYSTEM_ERROR: "teknisk feil",
    RunOutcome.ABANDONED: "forlatt (arbeideren stoppet)",
    RunOutcome.RELEASED: "levert tilbake",
    RunOutcome.LOST: "tatt over av en annen arbeider",
    RunOutcome.WAITING: "venter på svar fra en person",
    RunOutcome.HANDED_OVER: "sendt til manuell behandling",
    RunOutcome.SYSTEM_WAIT: "venter på systemet (forsøket telles ikke)",
}

SYSTEM_STATE = {
    "available": "tilgjengelig",
    "credentials_rejected": "innlogging avvist",
    "unavailable": "utilgjengelig",
}

ROLE = {
    "caseworker": "saksbehandler",
    "operator": "driftsoperatør",
    "auditor": "revisor",
    "leder": "leder (HR)",
    "admin": "administrator",
}

ACTION = {
    "submit": "sendt inn",
    "retry": "prøvd på nytt",
    "cancel": "avbrutt",
    "pause": "satt på pause",
    "resume": "startet igjen",
    "login": "logget inn",
    "login_sso": "logget inn (SSO)",
    "login_failed": "mislykket innlogging",
    "login_locked": "innlogging sperret",
    "user_add": "bruker lagt til",
    "token_add": "API-nøkkel laget",
    "token_revoke": "API-nøkkel trukket tilbake",
    "role_change": "rolle endret",
    "user_disable": "bruker deaktivert",
    "user_enable": "bruker aktivert",
    "alert_ack": "varsel kvittert",
    "answer": "spørsmål besvart",
    "hand_over": "sendt til manuell behandling",
    "take": "sak tatt",
    "complete_manual": "fullført manuelt",
    "question_expired": "spørsmål ubesvart innen fristen",
    "acknowledge": "påminnelse kvittert",
    "bulk_retry": "flere prøvd på nytt",
    "bulk_cancel": "flere avbrutt",
    "view": "sett",
    "export": "eksportert",
    "verify": "revisjonsspor kontrollert",
    "retention": "gamle logger slettet",
    "reveal": "personopplysninger vist i klartekst",
    "schedule_change": "tidsplan endret",
    "schedule_create": "tidsplan opprettet",
    "demo": "demo",
    "system_credentials_rejected": "innlogging avvist av systemet",
    "system_credentials_renewed": "innlogging fornyet",
    "system_unavailable": "system utilgjengelig (sikring åpnet)",
    "system_available": "system tilgjengelig igjen",
    "system_probe_now": "ny sjekk av systemet bestilt",
}


def status_name(status: str) -> str:
    return STATUS.get(status, status)


def outcome_name(outcome: str | None) -> str:
    return OUTCOME.get(outcome, outcome) if outcome else "pågår"


def system_state_name(state: str) -> str:
    return SYSTEM_STATE.get(state, state)


def role_name(role: str) -> str:
    return ROLE.get(role, role)


def action_name(action: str) -> str:
    return ACTION.get(action, action)


WEEKDAYS = ["søndager", "mandager", "tirsdager", "onsdager", "torsdager", "fredager", "lørdager"]


def schedule_text(trigger: str, spec: str, working_days_only: bool = False) -> str:
    """A schedule in plain Norwegian: "hverdager kl. 06:00", "hvert 15. minutt", "én gang
    2026-12-24 kl. 08:00". A crontab it cannot put in words is shown as it is written."""
    suffix = " (bare arbeidsdager)" if working_days_only else ""
    if trigger == "interval":
        seconds = int(float(spec))
        if seconds % 3600 == 0:
            hours = seconds // 3600
            return ("hver time" if hours == 1 else f"hver {hours}. time") + suffix
        if seconds % 60 == 0:
            minutes = seconds // 60
            return ("hvert minutt" if minutes == 1 else f"hvert {minutes}. minutt") + suffix
        return f"hvert {seconds}. sekund{suffix}"
    if trigger == "date":
        return f"én gang {spec[:16].replace('T', ' kl. ')}"
    fields = spec.split()
    if trigger != "cron" or len(fields) != 5:
        return f"{trigger} {spec}"
    minute, hour, day, month, weekday = fields
    if day != "*" or month != "*":
        return f"cron {spec}{suffix}"
    if minute.startswith("*/") and hour == "*" and weekday == "*":
        return f"hvert {minute[2:]}. minutt{suffix}"
    if minute.isdigit() and hour == "*" and weekday == "*":
        return f"hver time, {int(minute)} minutter over{suffix}"
    if not (minute.isdigit() and hour.isdigit()):
        return f"cron {spec}{suffix}"
    at = f"kl. {int(hour):02d}:{int(minute):02d}"
    if weekday == "*":
        days = "hver dag"
    elif weekday in ("1-5", "mon-fri"):
        days = "hverdager"
    elif weekday.isdigit() and 0 <= int(weekday) <= 7:
        days = WEEKDAYS[int(weekday) % 7]
    else:
        return f"cron {spec}{suffix}"
    return f"{days} {at}{suffix}"


ARTIFACT = {
    "screenshot": "skjermbilde",
    "trace": "sporingsfil",
    "html": "HTML-kopi av siden",
    "report": "rapport",
    "evidence": "bevis",
    "har": "nettverkslogg",
}

DETAIL = {
    "was": "før",
    "team": "team",
    "enabled": "aktiv",
    "reference": "referanse",
    "task": "oppgave",
    "answer": "svar",
    "reason": "grunn",
    "role": "rolle",
    "count": "antall",
    "name": "navn",
    "status": "status",
    "sha256": "kontrollsum",
    "priority": "prioritet",
    "outcome": "utfall",
    "ids": "elementer",
}

VIA = {"web": "", "api": " (via API)", "cli": " (kommandolinjen)"}
TARGET_KIND = {
    "item": "element",
    "run": "kjøring",
    "report": "rapport for kjøring",
    "artifact": "vedlegg",
    "schedule": "tidsplan",
    "user": "bruker",
    "system": "system",
    "task": "oppgave",
    "question": "spørsmål",
    "alert": "varsel",
    "token": "API-nøkkel",
}


def artifact_name(kind: str) -> str:
    return ARTIFACT.get(kind, kind)


def actor_name(actor: str | None) -> str:
    """A person as people know them: "web:kari" is "kari", "api:kari" "kari (via API)", a
    schedule "tidsplanen morgen"."""
    if not actor:
        return "–"
    kind, sep, name = actor.partition(":")
    if not sep:
        return "systemet" if actor == "system" else actor
    if kind in VIA:
        return name + VIA[kind]
    if kind == "schedule":
        return f"tidsplanen {name}"
    return f"{TARGET_KIND.get(kind, kind)} {name}"


def target_name(target: str) -> str:
    """An audit target in words: "item:12" is "element 12"."""
    kind, sep, ident = target.partition(":")
    return f"{TARGET_KIND.get(kind, kind)} {ident}" if sep else target


def value_text(value: object) -> str:
    """A stored value as text for people (yes/no, lists, nested pairs; never JSON or null)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "ja" if value else "nei"
    if isinstance(value, dict):
        pairs = (f"{DETAIL.get(str(k), k)}: {value_text(v)}" for k, v in value.items())
        return "; ".join(pairs) or "–"
    if isinstance(value, (list, tuple)):
        return ", ".join(value_text(v) for v in value) or "–"
    text = str(value)
    if text in STATUS or text in OUTCOME:
        return STATUS.get(text) or OUTCOME.get(text, text)
    return actor_name(text) if text.partition(":")[0] in VIA else text

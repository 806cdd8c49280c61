"""The three flows end to end: real Chromium, the real sandbox, a real database."""

from __future__ import annotations

import json
import os
import re
import signal
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import select

from robots.models import ItemStatus, OutboxMessage, Run, RunEvent, Worker, WorkItem
from robots.workdays import WorkingDays
from sandbox.common import Faults
from tasks.noark5 import code_of
from tasks.sykefravaer import Absence, config, due_reminders, join_periods
from tests.archive_view import client as archive_client
from tests.archive_view import journalposter, saksmapper
from tests.conftest import Env, settle, wait_for

AUTH = ("robot", "robot-passord")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def robot_env(box: Any) -> dict[str, str]:
    return {
        "RPA_SYSTEM_URLS": json.dumps({"hr": box.hr.url, "archive": box.archive.url}),
        "RPA_CRED_HR_USERNAME": "robot",
        "RPA_CRED_HR_PASSWORD": "robot-passord",
        "RPA_CRED_ARCHIVE_USERNAME": "robot",
        "RPA_CRED_ARCHIVE_PASSWORD": "robot-passord",
        "RPA_SMTP_HOST": box.smtp.host,
        "RPA_SMTP_PORT": str(box.smtp.port),
    }


def run_worker(env: Env, box: Any, timeout: float = 400) -> None:
    """Two worker processes (one Chromium each) until every item is final."""
    settle(env, robot_env(box), processes=2, timeout=timeout)


def records(box: Any) -> list[dict[str, Any]]:
    return journalposter(box)


def mails(box: Any) -> list[dict[str, Any]]:
    return httpx.get(f"{box.mail_web.url}/api/messages").json()


def statuses(env: Env) -> dict[str, str]:
    with env.db.session() as session:
        return {f"{i.task}:{i.reference}": i.status for i in session.scalars(select(WorkItem))}


def test_onboarding_files_ticks_orders_and_mails_exactly_once(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    env, box = sqlite_env, sandbox
    env.queue().submit("onboarding.find_new_hires", "nyansatte-1", {}, submitted_by="t")
    run_worker(env, box)
    hires = box.hr_app.state.data.new_hire_ids
    assert statuses(env) == {
        "onboarding.find_new_hires:nyansatte-1": "done",
        **{f"onboarding:{h}": "done" for h in hires},
        # signing is a person's act: a follow-up waits for HR to confirm it
        **{f"onboarding.signert:ansatt-{h}:signert": "waiting_for_person" for h in hires},
    }
    filed = records(box)
    assert len(filed) == len(hires)
    employees = {h: httpx.get(f"{box.hr.url}/_sandbox/employees/{h}").json() for h in hires}
    for record in filed:
        hire = int(record["eksternReferanse"].split(":")[1])
        person = employees[hire]["employee"]
        skjerming = record["skjerming"]
        assert skjerming["tilgangsrestriksjon"] == {"kode": "P", "kodenavn": "Personalsak"}
        assert skjerming["skjermingshjemmel"].startswith("Offl. § 26 femte ledd")
        # The standard's skjerming (Noark 5 M502-M504), as config/onboarding.yaml asks.
        assert [c["kode"] for c in skjerming["skjermingMetadata"]] == ["TRO", "NM"]
        assert skjerming["skjermingDokument"]["kode"] == "H"
        assert skjerming["skjermingsvarighet"] == 60
        assert record["offentligTittel"] == "Arbeidsavtale"  # the municipality's choice (config)
        contract = record["dokumentbeskrivelse"][0]["dokumentobjekt"][0]
        assert contract["variantformat"] == {"kode": "A", "kodenavn": "Arkivformat"}
        assert contract["format"]["kode"] == "fmt/477"  # PDF/A-2b
        assert contract["sjekksumAlgoritme"] == "SHA-256"
        assert person["name"] in record["tittel"]
        assert person["fnr"] not in json.dumps(record)
    # Each contract lies in the hire's own personalmappe, in the arkivdel Personalmapper, found
    # by a standard client by the person's class (the employee number).
    with archive_client(box) as c:
        part = c.first(
            c.href(c.follow("arkivstruktur"), "arkivstruktur/arkivdel"),
            "tittel eq 'Personalmapper'",
        )
        assert part is not None
        for record in filed:
            hire = record["eksternReferanse"].split(":")[1]
            folders = c.list(part, "arkivstruktur/mappe", f"klasse/klasseID eq '{hire}'")
            assert len(folders) == 1
            # The employee is the contract's mottaker, screened in the public journal.
            journalpost = c.get(record["_links"]["self"]["href"])
            parties = c.list(journalpost, "arkivstruktur/korrespondansepart")
            name = employees[int(hire)]["employee"]["name"]
            assert [(p["korrespondanseparttype"]["kode"], p["navn"]) for p in parties] == [
                ("EM", name)
            ]
            assert c.href(record, "sakarkiv/saksmappe") == c.href(folders[0], "self")
    journal = httpx.get(f"{box.archive.url}/offentlig-journal").text
    assert "Arbeidsavtale" in journal and "Mottaker: *****" in journal
    assert not any(e["employee"]["name"] in journal for e in employees.values())
    for hire, state in employees.items():
        done = {i["code"] for i in state["checklist"] if i["done_at"]}
        assert done == {"it_tilgang"}  # the contract is a draft: signing is a person's act
        (contract,) = [i for i in state["checklist"] if i["code"] == "arbeidsavtale"]
        assert contract["status"] == "sendt_til_signering" and contract["status_by"] == "robot"
        assert [r["reference"] for r in state["it_requests"]] == [f"onboarding:{hire}:it"]
    sent = mails(box)
    assert len(sent) == len(hires)
    for message in sent:
        assert "Taushetserklæring" in message["body"] and "frist" in message["body"]
        assert "sendt til signering, venter på signatur" in message["body"]
        assert "Innføringsdag" in message["body"] and "personvern" in message["body"]
        assert not any(e["employee"]["fnr"] in message["body"] for e in employees.values())
    # A second pass over the same hires (new references) files, orders and mails nothing new.
    for hire in hires[:1]:
        env.queue().submit("onboarding", f"{hire}-igjen", {"employee_id": hire}, submitted_by="t")
    run_worker(env, box)
    assert len(records(box)) == len(hires) and len(mails(box)) == len(hires)
    for hire in hires[:1]:
        state = httpx.get(f"{box.hr.url}/_sandbox/employees/{hire}").json()
        assert len(state["it_requests"]) == 1
    # HR confirms that the first hire's signed contract is back: only then is it ticked.
    from robots import people
    from robots.models import Question

    first = hires[0]
    with env.db.session() as session:
        question = session.scalars(
            select(Question)
            .join(WorkItem, WorkItem.id == Question.item_id)
            .where(WorkItem.reference == f"ansatt-{first}:signert")
        ).one()
    people.answer(env.db, question.id, {"mottatt": True}, "web:hr")
    run_worker(env, box)
    assert statuses(env)[f"onboarding.signert:ansatt-{first}:signert"] == "done"
    state = httpx.get(f"{box.hr.url}/_sandbox/employees/{first}").json()
    (contract,) = [i for i in state["checklist"] if i["code"] == "arbeidsavtale"]
    assert contract["done_at"]


def test_unknown_employee_is_a_business_error(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    env = sqlite_env
    env.queue().submit("onboarding", "99999", {"employee_id": 99999}, submitted_by="t")
    run_worker(env, sandbox)
    with env.db.session() as session:
        item = session.scalars(select(WorkItem)).one()
    assert item.status == ItemStatus.BUSINESS_ERROR
    assert item.error_message == "Fant ikke ansatt 99999 i personalsystemet"


def expected_reminders(box: Any) -> set[str]:
    rows = httpx.get(f"{box.hr.url}/_sandbox/absences").json()
    data = box.hr_app.state.data
    history = [
        a
        for r in rows
        for a in httpx.get(f"{box.hr.url}/_sandbox/employees/{r['employee_id']}").json()["absences"]
    ]
    absences = [
        Absence(
            a["employee_id"],
            "",
            "",
            date.fromisoformat(a["first_day"]),
            date.fromisoformat(a["end_date"]) if a["end_date"] else None,
            a["grade"],
            a["kind"],
            "",
            "",
        )
        for a in {a["id"]: a for a in history}.values()
    ]
    calendar = WorkingDays(["12-24", "12-31"])
    keys = set()
    for period in join_periods(absences, 16):
        for m in due_reminders(period, data.today, calendar, config()):
            keys.add(f"sykefravaer:{period.employee_id}:{period.start.isoformat()}:{m.code}")
    return keys


def test_sykefravaer_reminders_once_per_milestone_and_excel(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    env, box = sqlite_env, sandbox
    # The robot's "today" is the sandbox's: no race with midnight between the two clocks.
    as_of = {"dato": box.hr_app.state.data.today.isoformat()}
    env.queue().submit("sykefravaer.reminders", "dag-1", as_of, submitted_by="t")
    run_worker(env, box)
    expected = expected_reminders(box)
    sent = mails(box)
    assert expected and {m["headers"]["X-RPA-Key"] for m in sent} == expected
    assert len(sent) == len(expected)
    numbers = [a["fnr"] for a in box.hr_app.state.data.query("SELECT fnr FROM employee")]
    for message in sent:
        assert "Frist:" in message["body"] and "Hva du skal gjøre" in message["body"]
        assert not any(n in message["body"] or n in message["subject"] for n in numbers)
    env.queue().submit("sykefravaer.reminders", "dag-1-igjen", as_of, submitted_by="t")
    run_worker(env, box)
    assert len(mails(box)) == len(expected)  # nothing twice
    with env.db.session() as session:
        result = session.scalars(
            select(WorkItem.result).where(WorkItem.reference == "dag-1-igjen")
        ).one()
    assert result["sent"] == 0 and result["already_sent"] == len(expected)
    sheet = load_workbook(result["overview"]).active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["Ansattnr", "Navn", "Enhet"] and sheet.max_row > 1
    cells = " ".join(str(c.value) for row in sheet.iter_rows() for c in row)
    assert not any(n in cells for n in numbers)


def test_sykefravaer_reminder_links_carry_no_personal_data(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    """The links in the mails really sent: a random token each, nothing an attacker can decode
    into the employee, the period or the manager; each leads to its own reminder."""
    from robots.links import find
    from tests.test_people import decodings

    env, box = sqlite_env, sandbox
    as_of = {"dato": box.hr_app.state.data.today.isoformat()}
    env.queue().submit("sykefravaer.reminders", "dag-1", as_of, submitted_by="t")
    console_url = "https://rpa.kommune.example"
    settle(env, {**robot_env(box), "RPA_CONSOLE_URL": console_url}, processes=1, timeout=400)
    sent = mails(box)
    assert sent
    rows = box.hr_app.state.data.query("SELECT id, name, fnr, email FROM employee")
    personal = {str(v) for row in rows for v in (row["name"], row["fnr"], row["email"])}
    for message in sent:
        key = message["headers"]["X-RPA-Key"]
        _, employee_id, start, _ = key.split(":")
        [url] = re.findall(rf"{re.escape(console_url)}/kvittering/\S+", message["body"])
        found = [
            value
            for text in decodings(url)
            for value in (*personal, f"/{employee_id}/", start)
            if value in text
        ]
        assert found == [], f"{url} gives away {found}"
        assert find(env.db, url.rsplit("/", 1)[1]).key == key


def test_archive_filing_moves_done_and_rejects_with_reason(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    env, box = sqlite_env, sandbox
    inbox = env.data_dir / "inbox"
    inbox.mkdir()
    (inbox / "BYGG-2026-002__Søknad om garasje__I__2026-02-01.txt").write_text("Søknad\n")
    (inbox / "vedtak.pdf").write_bytes(PDF)
    (inbox / "vedtak.pdf.json").write_text(
        json.dumps(
            {
                "saksreferanse": "NY-2026-9",
                "tittel": "Vedtak",
                "journalposttype": "U",
                "dokumentets_dato": "2026-02-03",
                "offentlig_tittel": "Vedtak",
                "tilgangsrestriksjon": "U",
                "skjermingshjemmel": "Offl. § 13",
                "ny_sak": {
                    "tittel": "Ny sak fra innboksen",
                    "offentlig_tittel": "Ny sak",
                    "klasse": "033",
                    "enhet": "Arkiv",
                },
            }
        )
    )
    # The leak found in review: a screened personnel document with no public title.
    leak = "Legeerklæring Kari Nordmann 150765 00565"
    (inbox / "legeerklaering.pdf").write_bytes(PDF + b"% lege\n")
    (inbox / "legeerklaering.pdf.json").write_text(
        json.dumps(
            {
                "saksreferanse": "PERS-1042",
                "tittel": leak,
                "journalposttype": "I",
                "dokumentets_dato": "2026-02-03",
                "tilgangsrestriksjon": "P",
                "skjermingshjemmel": "Offl. § 13 jf. fvl. § 13 første ledd nr. 1",
                "ny_sak": {"tittel": "Personalmappe Kari Nordmann 15076500565", "klasse": "033"},
            }
        )
    )
    (inbox / "ODEGAARD-1__Brev__I__2026-02-01.pdf").write_bytes(b"not a pdf at all")
    (inbox / "INGEN-SAK__Brev__I__2026-02-01.txt").write_text("hei\n")
    env.queue().submit("arkivering.scan_inbox", "skann-1", {}, submitted_by="t")
    run_worker(env, box)
    filed = records(box)
    assert sorted(r["tittel"] for r in filed) == [leak, "Søknad om garasje", "Vedtak"]
    screened = next(r for r in filed if r["tittel"] == leak)
    assert screened["offentligTittel"] == "Personalsak"
    personal = next(
        c
        for c in saksmapper(box)
        if c["virksomhetsspesifikkeMetadata"]["eksternReferanse"] == "PERS-1042"
    )
    assert personal["offentligTittel"] == "Personalsak"
    public = json.dumps([screened["offentligTittel"], personal["offentligTittel"]])
    assert "Kari" not in public and "00565" not in public
    vedtak = next(r for r in filed if r["tittel"] == "Vedtak")
    assert vedtak["skjerming"]["tilgangsrestriksjon"]["kode"] == "U"
    main = vedtak["dokumentbeskrivelse"][0]["dokumentobjekt"][0]
    import hashlib

    assert main["sjekksum"] == hashlib.sha256(PDF).hexdigest()
    # A PDF that is not PDF/A is filed as produksjonsformat; a converted text file is PDF/A-2b.
    assert (code_of(main["variantformat"]), code_of(main["format"])) == ("P", "fmt/276")
    converted = next(r for r in filed if r["tittel"] == "Søknad om garasje")
    document = converted["dokumentbeskrivelse"][0]["dokumentobjekt"][0]
    assert (code_of(document["variantformat"]), code_of(document["format"])) == ("A", "fmt/477")
    assert sorted(p.name for p in (inbox / "done").iterdir()) == [
        "BYGG-2026-002__Søknad om garasje__I__2026-02-01.txt",
        "legeerklaering.pdf",
        "legeerklaering.pdf.json",
        "vedtak.pdf",
        "vedtak.pdf.json",
    ]
    rejected = inbox / "rejected"
    assert (
        "ikke en lesbar PDF"
        in (rejected / "ODEGAARD-1__Brev__I__2026-02-01.pdf.grunn.txt").read_text()
    )
    assert (
        "Fant ingen sak med referanse INGEN-SAK"
        in (rejected / "INGEN-SAK__Brev__I__2026-02-01.txt.grunn.txt").read_text()
    )
    counts = Counter(statuses(env).values())
    assert counts == {"done": 4, "business_error": 2}
    # scanning again finds nothing new to file
    env.queue().submit("arkivering.scan_inbox", "skann-2", {}, submitted_by="t")
    run_worker(env, box)
    assert len(records(box)) == 3


def test_faults_end_done_or_business_error_without_duplicates(env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    box = sandbox
    box.set_faults(
        Faults(
            seed=5, error_rate=0.1, popup_rate=0.3, session_expiry_rate=0.05, layout_variant=True
        )
    )
    hires = box.hr_app.state.data.new_hire_ids[:3]
    for hire in hires:
        env.queue().submit("onboarding", str(hire), {"employee_id": hire}, submitted_by="t")
    env.queue().submit("onboarding", "404", {"employee_id": 404}, submitted_by="t")
    env.queue().submit("sykefravaer.reminders", "dag", {}, submitted_by="t")
    run_worker(env, box, timeout=600)
    final = statuses(env)
    assert final == {
        **{f"onboarding:{h}": "done" for h in hires},
        **{f"onboarding.signert:ansatt-{h}:signert": "waiting_for_person" for h in hires},
        "onboarding:404": "business_error",
        "sykefravaer.reminders:dag": "done",
    }
    injected = dict(box.hr_app.state.faults.injected)
    assert injected["error"] and injected["popup"]
    box.set_faults(Faults())  # the checks below read the systems as they are, not through faults
    filed = records(box)
    assert sorted(r["eksternReferanse"] for r in filed) == sorted(
        f"onboarding:{h}:arbeidsavtale" for h in hires
    )
    keys = [m["headers"]["X-RPA-Key"] for m in mails(box)]
    assert len(keys) == len(set(keys))  # no mail delivered twice
    with env.db.session() as session:
        outbox = Counter(session.scalars(select(OutboxMessage.status)).all())
    assert outbox == {"sent": len(keys)}


def test_worker_killed_while_filing_still_files_exactly_once(env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    box = sandbox
    box.archive_app.state.faults.set(Faults(latency_ms=400))
    hire = box.hr_app.state.data.new_hire_ids[5]
    item = env.queue().submit("onboarding", str(hire), {"employee_id": hire}, submitted_by="t").item
    proc = env.start("worker", "--processes", "1", name="worker", extra_env=robot_env(box))

    def filing() -> int | None:
        with env.db.session() as session:
            started = session.scalars(
                select(RunEvent.run_id).where(RunEvent.message.like("Start: Journalfør%"))
            ).first()
            worker = session.scalars(
                select(Worker).where(Worker.current_item_id == item.id)
            ).first()
        return worker.pid if started and worker else None

    # the Journalfør step is logged to the database with the heartbeat (0.5 s in tests)
    pid = wait_for(filing, timeout=180, interval=0.05, message="filing under way")
    os.kill(pid, signal.SIGKILL)  # type: ignore[arg-type]
    wait_for(
        lambda: statuses(env)[f"onboarding:{hire}"] == "done",
        timeout=240,
        message="item done after reclaim",
    )
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    filed = [r for r in records(box) if r["eksternReferanse"] == f"onboarding:{hire}:arbeidsavtale"]
    assert len(filed) == 1
    with env.db.session() as session:
        outcomes = [
            r.outcome
            for r in session.scalars(select(Run).where(Run.item_id == item.id).order_by(Run.id))
        ]
    assert "abandoned" in outcomes and outcomes[-1] == "done", outcomes
    assert len(mails(box)) == 1
    assert Path(env.data_dir / "documents" / f"arbeidsavtale-{hire}.pdf").exists()

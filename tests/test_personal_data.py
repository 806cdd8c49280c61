"""Personal data at rest (issue 24 point 15): an item's fødselsnummer and sensitive fields are
sealed in the database, opened only for the worker, shown as a keyed hash, found by it, and
purged with the run log."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from pydantic import SecretStr
from sqlalchemy import select, text, update

from robots import fnr, sealing
from robots.masking import mask_text
from robots.models import AuditEvent, ItemStatus, WorkItem, utcnow
from robots.settings import load_settings
from robots.views import ItemFilter, Views
from robots.worker import WorkerProcess
from tests.conftest import Env

NUMBER = "15076500565"
OTHER = "01019040034"
NAME = "Kari Nordmann"


def raw_rows(env: Env) -> str:
    """Every column of every work item and audit event, read with plain SQL."""
    with env.db.engine.connect() as conn:
        rows = [
            *conn.execute(text("SELECT * FROM work_item")).all(),
            *conn.execute(text("SELECT * FROM audit_event")).all(),
        ]
    return " ".join(str(value) for row in rows for value in row)


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_no_fnr_in_the_raw_row_yet_the_worker_gets_it(env: Env) -> None:
    queue = env.queue()
    payload = {"fnr": NUMBER, "name": NAME, "note": f"gjelder også {OTHER[:6]} {OTHER[6:]}"}
    first = queue.submit("personal", f"sak-{NUMBER}", payload, submitted_by="t")
    raw = raw_rows(env)
    for clear in (NUMBER, OTHER, NUMBER[:6], OTHER[:6], NAME):
        assert clear not in raw, clear
    # idempotent: the same reference is the same item
    again = queue.submit("personal", f"sak-{NUMBER}", payload, submitted_by="t")
    assert not again.created and again.item.id == first.item.id

    WorkerProcess(env.settings, queue.registry).run(exit_when_idle=True)
    views = Views(env.db, env.settings)
    item = views.item(first.item.id)
    assert item.status == ItemStatus.DONE
    assert item.result == {
        "fnr_sha256": sha(NUMBER),
        "name_sha256": sha(NAME),
        "note_sha256": sha(payload["note"]),
    }
    # people see the keyed hash, never the number or the birth date
    assert item.payload["fnr"] == fnr.tag(NUMBER) and item.payload["name"] == "*****"
    assert item.reference == f"sak-{fnr.tag(NUMBER)}"
    assert item.payload["note"] == f"gjelder også {fnr.tag(OTHER)}"
    # found by the number (through its keyed hash), and by the hash people see
    for search in (NUMBER, f"{NUMBER[:6]} {NUMBER[6:]}", fnr.tag(NUMBER)):
        assert [i.id for i in views.items(ItemFilter(text=search)).rows] == [first.item.id]
    assert views.items(ItemFilter(text=OTHER)).rows == []
    assert views.item_by_ident(f"sak-{NUMBER}").id == first.item.id


def test_duplicate_detection_on_a_sealed_field(env: Env) -> None:
    queue = env.queue()
    one = queue.submit("personal", "a", {"fnr": NUMBER}, submitted_by="t", unique_on="fnr")
    two = queue.submit("personal", "b", {"fnr": NUMBER}, submitted_by="t", unique_on="fnr")
    three = queue.submit("personal", "c", {"fnr": OTHER}, submitted_by="t", unique_on="fnr")
    assert one.created and not two.created and two.item.id == one.item.id
    assert three.created


def test_masked_form_is_a_keyed_hash_of_the_installation(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.queue()  # installs this installation's key
    shown = mask_text(f"Ansatt {NUMBER}")
    assert re.fullmatch(r"Ansatt fnr#[0-9a-f]{6}", shown) and NUMBER[:6] not in shown
    assert mask_text(OTHER) != mask_text(NUMBER) and mask_text(NUMBER) == shown[7:]
    key = (env.data_dir / "personal.key").stat()
    assert key.st_mode & 0o777 == 0o600
    # another installation (another key) shows another hash: no rainbow table across them
    monkeypatch.setenv("RPA_DATA_DIR", str(tmp_path / "other"))
    sealing.install(load_settings())
    assert mask_text(NUMBER) != shown[7:]
    # the birth-date form is a setting
    monkeypatch.setenv("RPA_FNR_MASK_FORM", "birth_date")
    sealing.install(load_settings())
    assert mask_text(f"Ansatt {NUMBER}") == "Ansatt 150765*****"
    sealing.install(env.settings)
    assert mask_text(f"Ansatt {NUMBER}") == shown


def test_retention_purges_the_input_of_final_items(env: Env) -> None:
    queue = env.queue()
    old = queue.submit("personal", "gammel", {"fnr": NUMBER}, submitted_by="t").item.id
    new = queue.submit("personal", "ny", {"fnr": OTHER}, submitted_by="t").item.id
    waiting = queue.submit("personal", "venter", {"fnr": NUMBER}, submitted_by="t", priority=-1)
    WorkerProcess(env.settings, queue.registry).run(exit_when_idle=True, max_items=2)
    with env.db.session() as session:
        session.execute(
            update(WorkItem)
            .where(WorkItem.id == old)
            .values(finished_at=utcnow() - timedelta(days=env.settings.retention_days + 1))
        )
    queue.submit("vedlikehold.retention", "rydd", {}, submitted_by="t", priority=10)
    WorkerProcess(env.settings, queue.registry).run(exit_when_idle=True, max_items=1)
    with env.db.session() as session:
        payloads = {i.id: i.payload for i in session.query(WorkItem).all()}
        purge = session.get(WorkItem, old)
        assert purge is not None and purge.status == ItemStatus.DONE
    assert payloads[old] == {}
    assert sealing.is_sealed(payloads[new]["fnr"])
    assert sealing.is_sealed(payloads[waiting.item.id]["fnr"])


def test_excel_fnr_column_read_as_a_number_keeps_its_leading_zero(env: Env, tmp_path: Path) -> None:
    from robots.cli import _submit_file

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["reference", "fnr", "note"])
    sheet.append(["rad-1", int(OTHER), 12345])  # Excel stored both as numbers
    path = tmp_path / "ansatte.xlsx"
    book.save(path)
    queue = env.queue()
    _submit_file(queue, "personal", path, "reference", "t", 0, None, None)
    assert OTHER not in raw_rows(env) and OTHER[1:] not in raw_rows(env)
    WorkerProcess(env.settings, queue.registry).run(exit_when_idle=True)
    item = Views(env.db, env.settings).item_by_ident("rad-1")
    assert item.status == ItemStatus.DONE
    assert item.result["fnr_sha256"] == sha(OTHER) and item.result["note_sha256"] == sha("12345")


def test_console_shows_the_hash_and_only_allowed_roles_the_number(console: Any) -> None:
    from tests.test_console import login

    env, server, tokens = console
    api = {"Authorization": f"Bearer {tokens['caseworker']}"}
    body = {"task": "personal", "reference": f"ansatt-{NUMBER}"}
    body["payload"] = {"fnr": NUMBER, "name": NAME}
    created = httpx.post(f"{server.url}/api/items", json=body, headers=api)
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    assert NUMBER not in created.text and NAME not in created.text
    kari = login(server, "caseworker")
    for path in (f"/elementer/{item_id}", f"/api/items/{item_id}", "/api/items", "/mine"):
        page = kari.get(path).text
        assert NUMBER not in page and NUMBER[:6] not in page and NAME not in page, path
    assert fnr.tag(NUMBER) in kari.get(f"/elementer/{item_id}").text
    assert kari.get(f"/api/items/{item_id}").json()["payload"]["fnr"] == fnr.tag(NUMBER)
    assert [i["id"] for i in kari.get("/api/items", params={"q": NUMBER}).json()] == [item_id]

    env.settings.personal_data_roles = ["operator"]
    operator = login(server, "operator")
    shown = operator.get(f"/api/items/{item_id}").json()
    assert shown["payload"] == {"fnr": NUMBER, "name": NAME, "note": ""}
    assert NUMBER in operator.get(f"/elementer/{item_id}").text
    assert NUMBER not in kari.get(f"/api/items/{item_id}").text  # still masked for others
    with env.db.session() as session:
        looks = session.scalars(select(AuditEvent).where(AuditEvent.action == "reveal")).all()
    assert [(e.actor, e.target) for e in looks] == [("web:operator", f"item:{item_id}")] * 2
    assert NUMBER not in raw_rows(env)


def test_input_sealed_under_another_key_fails_the_item_plainly(env: Env) -> None:
    queue = env.queue()
    item = queue.submit("personal", "nøkkel", {"fnr": NUMBER}, submitted_by="t").item.id
    env.settings.personal_data_key = SecretStr("en annen nøkkel enn den som forseglet")
    WorkerProcess(env.settings, queue.registry).run(exit_when_idle=True)
    shown = Views(env.db, env.settings).item(item)
    assert shown.status == ItemStatus.FAILED and "nøkkel" in shown.error
    sealing.install(load_settings())

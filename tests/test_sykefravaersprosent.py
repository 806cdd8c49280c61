"""The sick-leave percentage as SSB and NAV define it: a hand-made month worked out from the
definition, the municipality as the dagsverk-weighted mean of its units, small units kept out of
sight, the figures through both databases, and the leader's page over HTTP."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from robots import sickleave
from robots.models import AuditEvent
from robots.sickleave import Figure, Tally
from tasks.sykefravaer import config
from tasks.sykefravaersprosent import (
    Leave,
    Position,
    Targets,
    figures,
    hidden,
    months_before,
    tally_months,
)
from tests.conftest import PASSWORD, Env
from tests.test_console import login

MAY = date(2025, 5, 1)


def test_a_hand_made_month_matches_ssbs_definition() -> None:
    """May 2025 has 22 weekdays; 1 May (Thursday) and Kristi himmelfartsdag (29 May, Thursday)
    are public holidays, 17 May is a Saturday: 20 working days (avtalte dagsverk count Monday
    to Friday without public holidays, NAV's definition)."""
    positions = [
        Position(1, "Helse", "Hjemmetjenesten", 100, date(2010, 1, 1), None),
        Position(2, "Helse", "Hjemmetjenesten", 80, date(2015, 3, 1), None),
        Position(3, "Helse", "Hjemmetjenesten", 50, date(2025, 5, 19), None),  # starts mid-month
        Position(4, "Helse", "Hjemmetjenesten", 100, date(2020, 1, 1), None),
        Position(5, "Helse", "Hjemmetjenesten", 100, date(2020, 1, 1), date(2025, 4, 30)),  # left
    ]
    leaves = [
        # from April: in May the 2nd (Friday; the 1st is a holiday) and 5-9 May: 6 days, 100 %
        Leave(1, date(2025, 4, 28), date(2025, 5, 9), 100, certified=True),
        # 50 % sykmelding in an 80 % position, 12-23 May: 10 working days x 0.4
        Leave(2, date(2025, 5, 12), date(2025, 5, 23), 50, certified=True),
        # egenmelding Monday to Wednesday in a 50 % position: 3 x 0.5
        Leave(3, date(2025, 5, 26), date(2025, 5, 28), 100, certified=False),
        # egenmelding on a holiday and a Friday, then the weekend: only the Friday counts
        Leave(4, date(2025, 5, 1), date(2025, 5, 4), 100, certified=False),
        Leave(5, date(2025, 5, 5), date(2025, 5, 9), 100, certified=True),  # no position then
    ]
    found = tally_months(positions, leaves, [MAY])
    tally, employees = found[(MAY, "Helse", "Hjemmetjenesten")]
    # agreed: 20 + 0.8 x 20 + 0.5 x 9 (19-31 May less the 29th) + 20
    assert tally.agreed == pytest.approx(20 + 16 + 4.5 + 20)
    assert tally.lost_certified == pytest.approx(6 + 4)
    assert tally.lost_self == pytest.approx(1.5 + 1)
    assert tally.percent() == pytest.approx(12.5 / 60.5 * 100)
    assert employees == {1, 2, 3, 4}


def test_an_open_leave_and_overlapping_leaves_count_each_day_once() -> None:
    positions = [Position(1, "A", "a", 100, date(2020, 1, 1), None)]
    leaves = [
        Leave(1, date(2025, 5, 5), None, 50, certified=True),  # still going on
        Leave(1, date(2025, 5, 5), date(2025, 5, 9), 100, certified=False),
    ]
    tally, _ = tally_months(positions, leaves, [MAY])[(MAY, "A", "a")]
    # 5-9 May: the 100 % egenmelding wins; 12-31 May: 50 % (14 working days, not the 29th)
    assert tally.lost_self == pytest.approx(5)
    assert tally.lost_certified == pytest.approx(14 * 0.5)
    assert tally.lost <= tally.agreed


def test_the_twelve_months_are_the_complete_months_before_today() -> None:
    months = months_before(date(2026, 3, 15))
    assert months[0] == date(2025, 3, 1) and months[-1] == date(2026, 2, 1) and len(months) == 12


leave_days = st.integers(min_value=0, max_value=29)


@st.composite
def municipality(draw: Any) -> tuple[list[Position], list[Leave]]:
    count = draw(st.integers(min_value=1, max_value=12))
    positions, leaves = [], []
    for employee in range(count):
        unit = draw(st.sampled_from(["a", "b", "c", "d"]))
        start = date(2025, 4, draw(st.integers(1, 28))) if draw(st.booleans()) else MAY
        percent = draw(st.sampled_from([20, 50, 75, 80, 100]))
        positions.append(
            Position(employee, unit.upper() if unit in "ab" else "C", unit, percent, start, None)
        )
        for _ in range(draw(st.integers(0, 2))):
            first = draw(leave_days)
            last = min(29, first + draw(st.integers(0, 10)))
            leaves.append(
                Leave(
                    employee,
                    date(2025, 5, first + 1),
                    date(2025, 5, last + 1),
                    draw(st.sampled_from([20, 50, 100])),
                    draw(st.booleans()),
                )
            )
    return positions, leaves


@settings(max_examples=60, deadline=None)
@given(municipality())
def test_the_municipalitys_figure_is_the_dagsverk_weighted_mean_of_its_units(
    data: tuple[list[Position], list[Leave]],
) -> None:
    positions, leaves = data
    found = figures(positions, leaves, [MAY], Targets(6.0, "kilde", {}), min_employees=0)
    whole = next(f for f in found if f.area == "")
    units = [f for f in found if f.unit != ""]
    agreed = sum(f.tally.agreed for f in units)
    assert whole.tally.agreed == pytest.approx(agreed)
    if agreed > 0:
        weighted = sum(f.tally.percent() * f.tally.agreed for f in units if f.tally.agreed) / agreed
        assert whole.tally.percent() == pytest.approx(weighted)


def test_small_groups_are_hidden_together_so_no_subtraction_reveals_one() -> None:
    assert hidden({"a": 40, "b": 12, "c": 3}, 5) == {"c", "b"}  # c alone could be subtracted
    assert hidden({"a": 40, "b": 3, "c": 4}, 5) == {"b", "c"}  # together 7: enough
    assert hidden({"a": 40, "b": 6}, 5) == set()
    assert hidden({"a": 4}, 5) == {"a"}


def test_a_unit_with_fewer_than_five_employees_shows_only_in_its_area() -> None:
    positions = [Position(n, "Helse", "Sykehjem", 100, date(2020, 1, 1), None) for n in range(8)]
    positions += [Position(n, "Helse", "Legevakt", 100, date(2020, 1, 1), None) for n in (8, 9)]
    positions += [
        Position(n, "Helse", "Hjemmetj.", 100, date(2020, 1, 1), None) for n in range(10, 16)
    ]
    leaves = [Leave(8, date(2025, 5, 5), date(2025, 5, 9), 100, certified=True)]
    found = figures(positions, leaves, [MAY], Targets(6.0, "s", {"Helse": (7.0, "h")}), 5)
    units = {f.unit for f in found if f.area == "Helse"}
    assert units == {"", "Sykehjem"}  # Legevakt (2) and, with it, the next smallest hidden
    area = next(f for f in found if f.area == "Helse" and f.unit == "")
    assert area.tally.lost_certified == pytest.approx(5) and area.employees == 16
    assert (area.target, area.target_source) == (7.0, "h")
    whole = next(f for f in found if f.area == "")
    assert (whole.target, whole.target_source) == (6.0, "s")


def test_the_overview_sums_dagsverk_for_the_quarter_and_the_year() -> None:
    rows = [Figure(date(2025, m, 1), "", "", Tally(100, m, 0), 50, 6.0, "s") for m in range(1, 13)]
    view = sickleave.overview(rows)
    (row,) = view.rows
    assert view.quarter == [date(2025, 10, 1), date(2025, 11, 1), date(2025, 12, 1)]
    assert row.month.percent() == pytest.approx(12)
    assert row.quarter.percent() == pytest.approx((10 + 11 + 12) / 3)
    assert row.year.percent() == pytest.approx(78 / 12)
    assert view.quarter_name == "4. kvartal 2025"


def seed_figures(env: Env) -> None:
    rows = []
    for m in range(1, 13):
        month = date(2025, m, 1)
        rows += [
            Figure(month, "", "", Tally(1000, 50 + m, 10), 400, 6.0, "Organisasjonsstrategien"),
            Figure(month, "Helse og velferd", "", Tally(400, 30, 5), 150, 7.5, "Eksempelmål"),
            Figure(month, "Helse og velferd", "Sykehjem", Tally(200, 20, 1), 60),
        ]
    with env.db.session() as session:
        sickleave.store(session, rows)


def test_the_figures_go_through_both_databases(env: Env) -> None:
    seed_figures(env)
    seed_figures(env)  # the robot's next run replaces them
    with env.db.session() as session:
        view = sickleave.read_overview(session)
    assert len(view.months) == 12 and [r.unit for r in view.rows] == ["", "", "Sykehjem"]
    assert view.rows[0].year.percent() == pytest.approx(100 * (sum(range(51, 63)) + 120) / 12000)


def test_the_leaders_page_shows_the_figures_to_the_leader_role_only(console: Any) -> None:
    env, server, tokens = console
    seed_figures(env)
    leader = login(server, "leder")
    page = leader.get("/sykefravaer")
    assert page.status_code == 200
    assert "Sykehjem" in page.text and "Helse og velferd" in page.text
    assert "Organisasjonsstrategien" in page.text and "6,0" in page.text
    data = re.search(
        r'<script type="application/json" id="sykefravaer-data">(.*?)</script>', page.text, re.S
    )
    assert data and "Helse og velferd" in data.group(1)  # one trend per area
    with env.db.session() as session:
        viewed = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "view", AuditEvent.target == "sykefravaer:statistikk"
            )
        ).all()
    assert [e.actor for e in viewed] == ["web:leder"]
    for role in ("caseworker", "operator", "auditor"):
        assert login(server, role).get("/sykefravaer").status_code == 403, role
    assert login(server, "admin").get("/sykefravaer").status_code == 200
    assert httpx.get(f"{server.url}/sykefravaer").status_code in (303, 307)
    menu = leader.get("/sykefravaer").text
    assert 'href="/drift"' not in menu and 'href="/revisjon"' not in menu


def test_the_leader_has_nothing_but_the_statistics(console: Any) -> None:
    env, server, tokens = console
    leader = login(server, "leder")
    for path in ("/mine", "/drift", "/revisjon", "/revisjonsspor", "/admin/brukere", "/ny"):
        assert leader.get(path).status_code == 403, path
    token = tokens["leder"]
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/items").status_code == 403
    assert api.get("/api/runs").status_code == 403


def test_the_page_without_figures_says_so(console: Any) -> None:
    env, server, tokens = console
    page = login(server, "leder", PASSWORD).get("/sykefravaer")
    assert page.status_code == 200 and "Ingen tall ennå" in page.text


def _sandbox_figures(box: Any, today: date) -> list[Figure]:
    """The figures straight from the sandbox HR system's own tables, not through its pages."""
    data = box.hr_app.state.data

    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    positions = [
        Position(
            r["employee_id"],
            r["area"],
            r["unit"],
            r["percent"],
            date.fromisoformat(r["start_date"]),
            day(r["end_date"]),
        )
        for r in data.query("SELECT * FROM position")
    ]
    leaves = [
        Leave(
            r["employee_id"],
            date.fromisoformat(r["first_day"]),
            day(r["end_date"]),
            r["grade"],
            r["kind"] != "egenmelding",
        )
        for r in data.query("SELECT * FROM absence")
    ]
    targets = Targets.from_config(config()["statistikk"])
    return figures(positions, leaves, months_before(today), targets, 5)


def test_the_robot_measures_the_sandbox_year_and_names_no_one(
    sqlite_env: Env, sandbox: Any
) -> None:
    from openpyxl import load_workbook

    from robots.models import WorkItem
    from tests.flows.test_flows import run_worker

    env, box = sqlite_env, sandbox
    today = box.hr_app.state.data.today
    env.queue().submit(
        "sykefravaer.reminders", "maal", {"dato": today.isoformat()}, submitted_by="t"
    )
    run_worker(env, box)
    with env.db.session() as session:
        item = session.scalars(select(WorkItem)).one()
        stored = sickleave.load(session)
    assert item.status == "done", item.error_message
    expected = _sandbox_figures(box, today)
    key = lambda f: (f.month, f.area, f.unit)  # noqa: E731
    assert sorted(map(key, stored)) == sorted(map(key, expected))
    by_key = {key(f): f for f in expected}
    for f in stored:
        assert f.tally.agreed == pytest.approx(by_key[key(f)].tally.agreed)
        assert f.tally.lost == pytest.approx(by_key[key(f)].tally.lost)
        assert f.employees >= 5
    units = {f.unit for f in stored}
    assert "Frivilligsentralen" not in units and "Helse og omsorg" in units  # 3 people: hidden
    assert len({f.month for f in stored}) == 12
    sheet = load_workbook(item.result["overview"])["Sykefraværsprosent"]
    cells = {str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None}
    assert "Hele kommunen" in cells and "Helse og velferd" in cells
    people = box.hr_app.state.data.query("SELECT name, fnr FROM employee")
    assert not any(p["name"] in cells or p["fnr"] in cells for p in people)

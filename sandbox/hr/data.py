"""The HR register (in the style of Visma HRM): its own SQLite file, seeded deterministically.

About 500 employees with synthetic fødselsnumre (Skatteetaten's month + 80), 10 new hires, and 40
active absences whose first days are spread so every sykefravær milestone is near for someone.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from robots import fnr
from sandbox.common import local_today

FIRST = [
    "Ola",
    "Kari",
    "Nora",
    "Emma",
    "Jakob",
    "Emil",
    "Sofie",
    "Ingrid",
    "Lars",
    "Anne",
    "Per",
    "Marit",
    "Jonas",
    "Sara",
    "Henrik",
    "Ida",
    "Magnus",
    "Thea",
    "Sindre",
    "Hanna",
    "Knut",
    "Eli",
    "Tor",
    "Live",
    "Aksel",
    "Maja",
    "Sander",
    "Frida",
    "Ole",
    "Astrid",
]
LAST = [
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Andersen",
    "Pedersen",
    "Nilsen",
    "Kristiansen",
    "Jensen",
    "Karlsen",
    "Johnsen",
    "Pettersen",
    "Eriksen",
    "Berg",
    "Haugen",
    "Hagen",
    "Johannessen",
    "Andreassen",
    "Jacobsen",
    "Dahl",
    "Jørgensen",
    "Halvorsen",
    "Lund",
    "Solberg",
    "Moen",
    "Bakken",
    "Iversen",
    "Strand",
    "Lie",
    "Myhre",
]
UNITS = [
    ("Oppvekst – skole", True),
    ("Barnehage", True),
    ("Helse og omsorg", True),
    ("Teknisk drift", False),
    ("Kultur", False),
    ("Økonomi", False),
    ("IT", False),
    ("Servicetorget", False),
]
# The organisation: each department's tjenesteområde (what the municipality's targets are set
# for). Three employees of Kultur hold their position at Frivilligsentralen, a unit too small to
# be shown on its own in the statistics.
AREAS = {
    "Oppvekst – skole": "Oppvekst",
    "Barnehage": "Oppvekst",
    "Helse og omsorg": "Helse og velferd",
    "Teknisk drift": "Teknisk",
    "Kultur": "Kultur og samfunn",
    "Økonomi": "Stab og støtte",
    "IT": "Stab og støtte",
    "Servicetorget": "Stab og støtte",
}
SMALL_UNIT = ("Kultur", "Frivilligsentralen", 3)
PERCENTAGES = [100, 100, 100, 100, 80, 80, 75, 60, 50, 40, 20]
HISTORY_DAYS = 400  # ended absences this far back, for the sick-leave statistics
# Day of absence (1 = first day) on the seed date: each milestone of domain.md is near for some.
ABSENCE_DAYS = [
    2,
    5,
    9,
    14,
    15,
    16,
    17,
    20,
    22,
    24,
    25,
    27,
    28,
    30,
    36,
    40,
    44,
    46,
    48,
    49,
    50,
    52,
    55,
    56,
    58,
    60,
    75,
    100,
    140,
    160,
    168,
    172,
    175,
    179,
    182,
    190,
    230,
    300,
    340,
    360,
]
CHECKLIST = [
    ("arbeidsavtale", "Skriftlig arbeidsavtale arkivert"),
    ("taushetserklaering", "Taushetserklæring signert og arkivert"),
    ("politiattest", "Politiattest kontrollert (kvittering arkivert)"),
    ("it_tilgang", "IT-bruker og tilganger bestilt"),
    ("nokkelkort", "Nøkkelkort / tilgangskort"),
    ("fadder", "Fadder tildelt"),
    ("hms", "HMS-opplæring"),
    ("infosikkerhet", "Kurs i informasjonssikkerhet og personvern"),
    ("innforingsdag", "Innføringsdag for nyansatte (innen seks måneder)"),
]
USERS = {"robot": "robot-passord", "hr": "hr-passord"}

SCHEMA = """
CREATE TABLE employee (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, fnr TEXT NOT NULL UNIQUE, unit TEXT NOT NULL,
    title TEXT NOT NULL, manager_id INTEGER, email TEXT NOT NULL, start_date TEXT NOT NULL,
    needs_politiattest INTEGER NOT NULL, is_manager INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE checklist_item (
    employee_id INTEGER NOT NULL, code TEXT NOT NULL, label TEXT NOT NULL,
    done_by TEXT, done_at TEXT, note TEXT,
    status TEXT, status_by TEXT, status_at TEXT,  -- e.g. sendt_til_signering, before done
    PRIMARY KEY (employee_id, code)
);
CREATE TABLE employment (
    employee_id INTEGER PRIMARY KEY, workplace TEXT, weekly_hours TEXT, salary TEXT,
    end_date TEXT, fixed_term_reason TEXT
);
CREATE TABLE absence (
    id INTEGER PRIMARY KEY, employee_id INTEGER NOT NULL, first_day TEXT NOT NULL,
    grade INTEGER NOT NULL, kind TEXT NOT NULL, end_date TEXT
);
CREATE TABLE position (
    id INTEGER PRIMARY KEY, employee_id INTEGER NOT NULL, area TEXT NOT NULL, unit TEXT NOT NULL,
    percent REAL NOT NULL, start_date TEXT NOT NULL, end_date TEXT
);
CREATE TABLE it_request (
    id INTEGER PRIMARY KEY, employee_id INTEGER NOT NULL, systems TEXT NOT NULL,
    requested_by TEXT NOT NULL, requested_at TEXT NOT NULL, reference TEXT NOT NULL UNIQUE
);
"""


class HRData:
    """Thread-safe access to the HR database (one connection, one lock: a test target)."""

    def __init__(self, path: Path, today: date | None = None, seed: int = 2026) -> None:
        self.path = path
        self.today = today or local_today()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        self.conn = sqlite3.connect(path, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.lock = threading.Lock()
        self.conn.executescript(SCHEMA)
        self._seed(random.Random(seed))

    # Seeding ----------------------------------------------------------------------------------

    def _person(self, rng: random.Random, used: set[str]) -> tuple[str, str]:
        while True:
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            birth = date(rng.randint(1960, 2003), rng.randint(1, 12), rng.randint(1, 28))
            number = fnr.generate(birth, rng.randint(0, 499), synthetic=True)
            if number and number not in used:
                used.add(number)
                return name, number

    def _seed(self, rng: random.Random) -> None:
        used: set[str] = set()
        rows: list[tuple[Any, ...]] = []
        managers: dict[str, list[int]] = {}
        next_id = 1001
        for unit, _ in UNITS:  # four managers per unit
            for _ in range(4):
                name, number = self._person(rng, used)
                rows.append(
                    (
                        next_id,
                        name,
                        number,
                        unit,
                        "Enhetsleder",
                        None,
                        _email(name, next_id),
                        self._past(rng),
                        0,
                        1,
                    )
                )
                managers.setdefault(unit, []).append(next_id)
                next_id += 1
        for i in range(470):
            unit, police = UNITS[i % len(UNITS)]
            rows.append(self._employee(rng, used, next_id, unit, police, self._past(rng), managers))
            next_id += 1
        self.new_hire_ids = []
        for offset in (-5, -3, -1, 0, 2, 4, 7, 10, 14, 20):
            unit, police = UNITS[(offset + 20) % len(UNITS)]
            start = (self.today + timedelta(days=offset)).isoformat()
            rows.append(self._employee(rng, used, next_id, unit, police, start, managers))
            self.new_hire_ids.append(next_id)
            next_id += 1
        self.conn.executemany("INSERT INTO employee VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        for n, employee_id in enumerate(self.new_hire_ids):
            self._employment(employee_id, n)
        for employee_id in self.new_hire_ids:
            needs = self.conn.execute(
                "SELECT needs_politiattest FROM employee WHERE id=?", (employee_id,)
            ).fetchone()[0]
            for code, label in CHECKLIST:
                if code == "politiattest" and not needs:
                    continue
                self.conn.execute(
                    "INSERT INTO checklist_item (employee_id, code, label) VALUES (?,?,?)",
                    (employee_id, code, label),
                )
        regular = [r[0] for r in rows if r[0] not in self.new_hire_ids and not r[9]]
        absent = rng.sample(regular, len(ABSENCE_DAYS))
        for n, (employee_id, day) in enumerate(zip(absent, ABSENCE_DAYS, strict=True)):
            first_day = self.today - timedelta(days=day - 1)
            kind = "egenmelding" if day <= 3 else "sykmelding"
            grade = 100 if n % 4 else 50
            end = (self.today + timedelta(days=rng.randint(3, 60))).isoformat()
            self.conn.execute(
                "INSERT INTO absence (employee_id, first_day, grade, kind, "
                "end_date) VALUES (?,?,?,?,?)",
                (employee_id, first_day.isoformat(), grade, kind, end),
            )
        # A finished absence (ended 10 days ago) for an employee who is absent again now: the
        # two join into one period (new absence within 16 days).
        joined = absent[0]
        self.conn.execute(
            "INSERT INTO absence (employee_id, first_day, grade, kind, end_date) "
            "VALUES (?,?,?,?,?)",
            (
                joined,
                (self.today - timedelta(days=40)).isoformat(),
                100,
                "sykmelding",
                (self.today - timedelta(days=10)).isoformat(),
            ),
        )
        self._positions(random.Random(rng.random()), {joined, *absent})
        self.conn.commit()

    def _positions(self, rng: random.Random, absent_now: set[int]) -> None:
        """Each employee's position (percentage, unit, start, end: as an HR system lists them),
        and a year of ended absences for those not absent now: egenmeldinger of one to three
        days, some sykmeldinger, more in winter. They end before today, so they never join an
        active period: the reminders see only what they saw before."""
        small_left = SMALL_UNIT[2]
        employees = self.conn.execute("SELECT id, unit, start_date FROM employee ORDER BY id")
        for employee_id, unit, start in employees.fetchall():
            placed = unit
            if unit == SMALL_UNIT[0] and small_left and employee_id not in absent_now:
                placed, small_left = SMALL_UNIT[1], small_left - 1
            end = None
            if employee_id not in absent_now and rng.random() < 0.04:  # left during the year
                end = (self.today - timedelta(days=rng.randint(20, 300))).isoformat()
            self.conn.execute(
                "INSERT INTO position (employee_id, area, unit, percent, start_date, end_date) "
                "VALUES (?,?,?,?,?,?)",
                (employee_id, AREAS[unit], placed, rng.choice(PERCENTAGES), start, end),
            )
            if employee_id in absent_now or start > self.today.isoformat():
                continue
            for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
                self._past_absence(rng, employee_id, "egenmelding", rng.randint(1, 3), 100)
            if rng.random() < 0.5:
                grade = rng.choice([100, 100, 100, 60, 50, 40])
                self._past_absence(rng, employee_id, "sykmelding", rng.randint(4, 50), grade)

    def _past_absence(
        self, rng: random.Random, employee_id: int, kind: str, days: int, grade: int
    ) -> None:
        while True:
            first = self.today - timedelta(days=rng.randint(days + 1, HISTORY_DAYS))
            if rng.random() < (1.0 if first.month in (1, 2, 3, 10, 11, 12) else 0.55):
                break
        self.conn.execute(
            "INSERT INTO absence (employee_id, first_day, grade, kind, end_date) "
            "VALUES (?,?,?,?,?)",
            (
                employee_id,
                first.isoformat(),
                grade,
                kind,
                (first + timedelta(days=days - 1)).isoformat(),
            ),
        )

    def positions(self, page: int, per_page: int) -> tuple[list[sqlite3.Row], int]:
        total = self.query("SELECT count(*) FROM position")[0][0]
        rows = self.query(
            "SELECT * FROM position ORDER BY employee_id, id LIMIT ? OFFSET ?",
            (per_page, (page - 1) * per_page),
        )
        return rows, total

    def _employee(
        self,
        rng: random.Random,
        used: set[str],
        employee_id: int,
        unit: str,
        police: bool,
        start: str,
        managers: dict[str, list[int]],
    ) -> tuple[Any, ...]:
        name, number = self._person(rng, used)
        return (
            employee_id,
            name,
            number,
            unit,
            _title(unit),
            rng.choice(managers[unit]),
            _email(name, employee_id),
            start,
            int(police),
            0,
        )

    def _employment(self, employee_id: int, n: int) -> None:
        """The terms of a new hire's employment: permanent, or fixed-term for under a month
        (a summer job) or for half a year (a vikariat)."""
        unit, start = self.conn.execute(
            "SELECT unit, start_date FROM employee WHERE id = ?", (employee_id,)
        ).fetchone()
        first = date.fromisoformat(start)
        end, reason = None, None
        if n % 4 == 1:
            end, reason = first + timedelta(days=20), "Sommervikariat (aml. § 14-9 andre ledd a)"
        elif n % 4 == 2:
            end = first + timedelta(days=182)
            reason = "Vikariat for fast ansatt i permisjon (aml. § 14-9 andre ledd b)"
        self.conn.execute(
            "INSERT INTO employment VALUES (?,?,?,?,?,?)",
            (
                employee_id,
                f"{unit}, Rådhusgata {5 + n}, 4001 Eksempel",
                "37,5 timer per uke" if n % 3 else "28,1 timer per uke (75 %)",
                f"Lønnstrinn {40 + n % 10}, kr {480_000 + 10_000 * (n % 7):_} per år".replace(
                    "_", " "
                ),
                end.isoformat() if end else None,
                reason,
            ),
        )

    def employment(self, employee_id: int) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM employment WHERE employee_id = ?", (employee_id,))
        return rows[0] if rows else None

    def _past(self, rng: random.Random) -> str:
        return (self.today - timedelta(days=rng.randint(60, 7000))).isoformat()

    # Queries ----------------------------------------------------------------------------------

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self.lock:
            cursor = self.conn.execute(sql, args)
            self.conn.commit()
            return cursor.rowcount

    def employee(self, employee_id: int) -> sqlite3.Row | None:
        rows = self.query(
            "SELECT e.*, m.name AS manager_name, m.email AS manager_email FROM employee e "
            "LEFT JOIN employee m ON m.id = e.manager_id WHERE e.id = ?",
            (employee_id,),
        )
        return rows[0] if rows else None

    def search(self, text: str, page: int, per_page: int) -> tuple[list[sqlite3.Row], int]:
        like = f"%{text}%"
        where = "WHERE name LIKE ? OR unit LIKE ? OR CAST(id AS TEXT) = ?"
        total = self.query(f"SELECT count(*) FROM employee {where}", (like, like, text))[0][0]
        rows = self.query(
            f"SELECT * FROM employee {where} ORDER BY name, id LIMIT ? OFFSET ?",
            (like, like, text, per_page, (page - 1) * per_page),
        )
        return rows, total

    def new_hires(self, text: str, page: int, per_page: int) -> tuple[list[sqlite3.Row], int]:
        since = (self.today - timedelta(days=30)).isoformat()
        like = f"%{text}%"
        where = "WHERE start_date >= ? AND (name LIKE ? OR unit LIKE ?)"
        total = self.query(f"SELECT count(*) FROM employee {where}", (since, like, like))[0][0]
        rows = self.query(
            f"SELECT * FROM employee {where} ORDER BY start_date, id LIMIT ? OFFSET ?",
            (since, like, like, per_page, (page - 1) * per_page),
        )
        return rows, total

    def checklist(self, employee_id: int) -> list[sqlite3.Row]:
        return self.query(
            "SELECT * FROM checklist_item WHERE employee_id = ? ORDER BY rowid", (employee_id,)
        )

    def tick(self, employee_id: int, code: str, user: str, note: str = "") -> bool:
        """Mark an item done; ticking a done item again changes nothing (idempotent)."""
        return (
            self.execute(
                "UPDATE checklist_item SET done_by = ?, done_at = ?, note = ? "
                "WHERE employee_id = ? AND code = ? AND done_at IS NULL",
                (user, datetime.now().isoformat(timespec="seconds"), note, employee_id, code),
            )
            == 1
        )

    def set_status(self, employee_id: int, code: str, status: str, user: str) -> bool:
        """Record an intermediate state (e.g. sendt_til_signering) of an item not yet done;
        the same state again changes nothing (idempotent)."""
        return (
            self.execute(
                "UPDATE checklist_item SET status = ?, status_by = ?, status_at = ? "
                "WHERE employee_id = ? AND code = ? AND done_at IS NULL "
                "AND coalesce(status, '') <> ?",
                (
                    status,
                    user,
                    datetime.now().isoformat(timespec="seconds"),
                    employee_id,
                    code,
                    status,
                ),
            )
            == 1
        )

    def absences(
        self, page: int, per_page: int, recent_days: int = 0
    ) -> tuple[list[sqlite3.Row], int]:
        """Active absences, plus those that ended within `recent_days` (to join periods)."""
        active = "WHERE a.end_date IS NULL OR a.end_date >= ?"
        today = (self.today - timedelta(days=recent_days)).isoformat()
        total = self.query(f"SELECT count(*) FROM absence a {active}", (today,))[0][0]
        rows = self.query(
            "SELECT a.*, e.name, e.unit, m.name AS manager_name, m.email AS manager_email "
            f"FROM absence a JOIN employee e ON e.id = a.employee_id "
            f"LEFT JOIN employee m ON m.id = e.manager_id {active} "
            "ORDER BY a.first_day, a.id LIMIT ? OFFSET ?",
            (today, per_page, (page - 1) * per_page),
        )
        return rows, total

    def absence_history(self, employee_id: int) -> list[sqlite3.Row]:
        return self.query(
            "SELECT * FROM absence WHERE employee_id = ? ORDER BY first_day", (employee_id,)
        )

    def request_it(self, employee_id: int, systems: str, user: str, reference: str) -> bool:
        """Record an IT-access request; the same reference twice is refused (False)."""
        try:
            self.execute(
                "INSERT INTO it_request (employee_id, systems, requested_by, "
                "requested_at, reference) VALUES (?,?,?,?,?)",
                (
                    employee_id,
                    systems,
                    user,
                    datetime.now().isoformat(timespec="seconds"),
                    reference,
                ),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def it_requests(self, employee_id: int) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM it_request WHERE employee_id = ?", (employee_id,))


def _email(name: str, employee_id: int) -> str:
    first, last = name.lower().replace("ø", "o").replace("å", "a").replace("æ", "ae").split(" ")
    return f"{first}.{last}.{employee_id}@kommune.example"


def _title(unit: str) -> str:
    return {
        "Oppvekst – skole": "Lærer",
        "Barnehage": "Barnehagelærer",
        "Helse og omsorg": "Sykepleier",
    }.get(unit, "Rådgiver")

"""Evidence never leaks (issue 10 §1): every artifact kind, grepped for a known fødselsnummer (as
written, URL-encoded) and the robot's password; the screenshot's mask boxes checked against where
the numbers are on the page."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from PIL import Image
from sqlalchemy import select

from robots.models import Artifact, Run, WorkItem
from tests.conftest import Env, settle
from tests.probe_tasks.leak_probe import list_page, numbers
from tests.test_runtime import employee, robot_env, stored_text

PASSWORD = "robot-passord"


def forbidden(number: str) -> list[bytes]:
    return [
        number.encode(),
        quote(number).encode(),
        f"{number[:6]}%20{number[6:]}".encode(),
        number[6:].encode() + b"&",  # the personal part as a form value
        PASSWORD.encode(),
        quote(PASSWORD).encode(),
    ]


def test_no_artifact_kind_leaks_a_number_or_the_password(
    sqlite_env: Env, sandbox: Any, page: Any
) -> None:
    env = sqlite_env
    hire = sandbox.hr_app.state.data.new_hire_ids[0]
    number = employee(sandbox, hire)["fnr"]
    env.queue().submit("leak_probe", "lekk-1", {"fnr": number}, submitted_by="t")
    settle(env, {**robot_env(sandbox), "RPA_TRACE": "retain_on_failure"}, processes=1)
    with env.db.session() as session:
        item = session.scalars(select(WorkItem)).one()
        run = session.scalars(select(Run)).one()
        artifacts = session.scalars(select(Artifact)).all()
    from robots.report import render
    from robots.views import Views

    report = render(Views(env.db, env.settings), run.id)
    assert item.status == "failed"
    assert sorted(a.kind for a in artifacts) == ["html", "screenshot", "trace"]
    blobs: dict[str, bytes] = {"run log": stored_text(env).encode(), "report": report.encode()}
    for artifact in artifacts:
        path = Path(artifact.path)
        if artifact.kind == "trace":
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                assert any(n.startswith("resources/") for n in names), names
                for name in names:
                    blobs[f"trace:{name}"] = archive.read(name)
        elif artifact.kind != "screenshot":
            blobs[artifact.kind] = path.read_bytes()
    # The trace did record what we look for (else the test proves nothing).
    network = b"".join(v for k, v in blobs.items() if k.endswith(".network"))
    assert b"/ansatte?q=" in network and b"it-tilgang" in network and b"/login" in network
    everything = list(numbers()) + [number]
    for where, blob in blobs.items():
        for value in everything:
            for needle in forbidden(value):
                assert needle not in blob, (where, needle)

    # The screenshot: every number on the list page lies under a black box.
    shot = next(Path(a.path) for a in artifacts if a.kind == "screenshot")
    image = Image.open(shot).convert("RGB")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.set_content(list_page(numbers()))
    centres = page.evaluate(
        """() => {
          const out = [];
          const re = /\\d{6}[\\s\\u00a0.+-]{0,2}\\d{5}/g;
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            for (const m of n.nodeValue.matchAll(re)) {
              const r = document.createRange();
              r.setStart(n, m.index + m[0].length - 3); r.setEnd(n, m.index + m[0].length);
              for (const b of r.getClientRects()) {
                out.push([b.left + b.width / 2, b.top + b.height / 2]);
              }
            }
          }
          return out;
        }"""
    )
    assert len(centres) >= 50
    for x, y in centres:
        assert image.getpixel((int(x), int(y))) == (0, 0, 0), (x, y)
    assert image.getpixel((5, 5)) != (0, 0, 0)  # the rest of the page is not blacked out

"""Sak og arkiv: validation, numbering, checksums, the Noark 5 API, and Chromium."""

from __future__ import annotations

import hashlib

import httpx

from tasks.noark5 import Noark5Client, code_of

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
AUTH = ("robot", "robot-passord")


def login(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url)
    assert (
        client.post("/login", data={"username": "robot", "password": "robot-passord"}).status_code
        == 303
    )
    return client


def new_case(client: httpx.Client, ekstern: str = "ansatt:1001") -> int:
    response = client.post(
        "/saker/ny",
        data={
            "tittel": "Personalmappe – Kari Nordmann",
            "offentlig_tittel": "Personalmappe",
            "arkivdel": "Personalmapper",
            "klasse": "1001",
            "administrativ_enhet": "HR",
            "ekstern_referanse": ekstern,
            "tilgangsrestriksjon": "P",
        },
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].split("/")[2].split("?")[0])


def record_form(**overrides: str) -> dict[str, str]:
    form = {
        "tittel": "Arbeidsavtale – Kari Nordmann",
        "offentlig_tittel": "Arbeidsavtale",
        "journalposttype": "U",
        "dokumentets_dato": "2026-01-05",
        "tilgangsrestriksjon": "P",
        "skjermingshjemmel": "Offl. § 13 jf. fvl. § 13 første ledd nr. 1",
        "ekstern_referanse": "onboarding:1001:arbeidsavtale",
    }
    form.update(overrides)
    return form


def test_case_and_record_numbering_checksums_and_api(sandbox) -> None:  # type: ignore[no-untyped-def]
    client = login(sandbox.archive.url)
    case_id = new_case(client)
    attachment = PDF + b"% vedlegg\n"
    response = client.post(
        f"/saker/{case_id}/journalpost/ny",
        data=record_form(),
        files=[
            ("hoveddokument", ("avtale.pdf", PDF, "application/pdf")),
            ("vedlegg", ("bilag.pdf", attachment, "application/pdf")),
        ],
    )
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    year = sandbox.archive_app.state.data.today.year
    assert f"{year}/5-1" in page.text  # four seeded cases, then ours; first document
    assert hashlib.sha256(PDF).hexdigest() in page.text
    with Noark5Client(f"{sandbox.archive.url}/api", *AUTH) as c:
        structure = c.follow("arkivstruktur")
        description = c.first(
            c.href(structure, "arkivstruktur/dokumentbeskrivelse"),
            "eksternReferanse eq 'onboarding:1001:arbeidsavtale'",
        )
        assert description is not None
        record = c.get(c.href(description, "arkivstruktur/registrering"))
        assert record["registreringsID"] == f"{year}/5-1"
        assert record["skjerming"]["tilgangsrestriksjon"]["kode"] == "P"
        assert "Kari" not in record["offentligTittel"]
        descriptions = c.list(record, "arkivstruktur/dokumentbeskrivelse")
        assert [code_of(d["tilknyttetRegistreringSom"]) for d in descriptions] == ["H", "V"]
        objects = [c.list(d, "arkivstruktur/dokumentobjekt")[0] for d in descriptions]
        assert objects[0]["sjekksum"] == hashlib.sha256(PDF).hexdigest()
        assert objects[0]["sjekksumAlgoritme"] == "SHA-256"
        assert objects[1]["filstoerrelse"] == len(attachment)
        assert c.download(objects[0]) == PDF
        (folder,) = c.list(
            c.first(c.href(structure, "arkivstruktur/arkivdel"), "tittel eq 'Personalmapper'")
            or {},
            "arkivstruktur/mappe",
            "klasse/klasseID eq '1001'",
        )
        assert folder["mappeID"] == f"{year}/5"
        assert folder["klasse"] == {"klasseID": "1001", "tittel": "Ansatt 1001"}
    assert httpx.get(f"{sandbox.archive.url}/api/sakarkiv/saksmappe").status_code == 401


def test_validation_and_duplicates_show_on_the_page(sandbox) -> None:  # type: ignore[no-untyped-def]
    client = login(sandbox.archive.url)
    case_id = new_case(client)
    bad = client.post(
        f"/saker/{case_id}/journalpost/ny",
        data=record_form(
            tittel="", journalposttype="Q", dokumentets_dato="2026-02-30", skjermingshjemmel=""
        ),
    )
    for message in (
        "Tittel må fylles ut",
        "Velg journalposttype",
        "Dokumentets dato må være en gyldig dato",
        "Skjermingshjemmel må fylles ut",
        "Hoveddokument må lastes opp",
    ):
        assert message in bad.text
    assert bad.status_code == 400
    not_pdf = client.post(
        f"/saker/{case_id}/journalpost/ny",
        data=record_form(),
        files={"hoveddokument": ("a.docx", b"PK\x03\x04", "application/zip")},
    )
    assert "a.docx er ikke en PDF-fil" in not_pdf.text
    ok = client.post(
        f"/saker/{case_id}/journalpost/ny",
        data=record_form(),
        files={"hoveddokument": ("a.pdf", PDF, "application/pdf")},
    )
    assert ok.status_code == 303
    dup = client.post(
        f"/saker/{case_id}/journalpost/ny",
        data=record_form(),
        files={"hoveddokument": ("a.pdf", PDF, "application/pdf")},
    )
    assert dup.status_code == 400 and "Journalposten finnes allerede" in dup.text
    dup_case = client.post(
        "/saker/ny",
        data={
            "tittel": "x",
            "arkivdel": "Personalmapper",
            "klasse": "1001",
            "administrativ_enhet": "HR",
            "ekstern_referanse": "ansatt:1001",
        },
    )
    assert "finnes allerede en sak" in dup_case.text
    assert "finnes allerede en personalmappe for ansatt 1001" in dup_case.text
    # Personnel files are ordered by the person; a K-code there (or a made-up class in the
    # Sakarkiv) is refused.
    for arkivdel, klasse, message in (
        ("Personalmapper", "221", None),
        ("Personalmapper", "400", None),
        ("Personalmapper", "Kari", "ordnes etter ansattnummer"),
        ("Sakarkiv", "221", "Velg en gyldig klasse"),
    ):
        answer = client.post(
            "/saker/ny",
            data={
                "tittel": "x",
                "arkivdel": arkivdel,
                "klasse": klasse,
                "administrativ_enhet": "HR",
            },
        )
        if message is None:
            assert answer.status_code == 303  # an employee number that happens to be 221
        else:
            assert answer.status_code == 400 and message in answer.text
    found = client.get("/saker", params={"klasse": "L42"})
    assert found.text.count("data-saksnr") == 2


def test_smoke_in_chromium(sandbox, page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pdf = tmp_path / "brev.pdf"
    pdf.write_bytes(PDF)
    page.goto(f"{sandbox.archive.url}/saker")
    page.get_by_label("Brukernavn").fill("robot")
    page.get_by_label("Passord").fill("robot-passord")
    page.get_by_role("button", name="Logg inn").click()
    page.get_by_label("Ekstern referanse").fill("BYGG-2026-001")
    page.get_by_role("button", name="Søk").click()
    page.locator("tr[data-saksnr] a").first.click()
    page.get_by_role("link", name="Ny journalpost").click()
    page.get_by_label("Tittel", exact=True).fill("Nabovarsel")
    page.get_by_label("Journalposttype").select_option("I")
    page.get_by_label("Dokumentets dato").fill("2026-03-01")
    page.get_by_label("Hoveddokument (PDF)").set_input_files(str(pdf))
    page.get_by_role("button", name="Journalfør").click()
    number = page.get_by_test_id("dokumentnummer").inner_text()
    assert number.endswith("/1-1")

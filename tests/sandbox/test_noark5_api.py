"""The sandbox archive against the Noark 5 tjenestegrensesnitt (v1.1), checked with plain HTTP
and only what the standard defines: relation keys, media type, list shape, OData, codes, ny-*.

Nothing here uses the project's client or knows the sandbox's paths: every href comes from a
`_links` entry, as the standard requires of a generic client (kapittel 6)."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

REL = "https://rel.arkivverket.no/noark5/v5/api/"
MEDIA = "application/vnd.noark5+json"
AUTH = ("robot", "robot-passord")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def link(entity: dict[str, Any], rel: str) -> str:
    href = entity["_links"][REL + rel + "/"]["href"]
    return str(href).split("{", 1)[0]  # a templated list link: {?$filter&$top...}


def get(http: httpx.Client, href: str, **params: Any) -> dict[str, Any]:
    response = http.get(href, params=params) if params else http.get(href)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(MEDIA)
    return dict(response.json())


@pytest.fixture
def http(sandbox) -> Any:  # type: ignore[no-untyped-def]
    with httpx.Client(headers={"Accept": MEDIA}, timeout=30) as client:
        client.base_root = f"{sandbox.archive.url}/api"  # type: ignore[attr-defined]
        yield client


def login(http: httpx.Client) -> dict[str, Any]:
    """The root needs no login and names the login mechanisms; Basic is rfc7617."""
    root = get(http, http.base_root)  # type: ignore[attr-defined]
    assert set(root["_links"]) >= {REL + "arkivstruktur/", REL + "sakarkiv/"}
    assert list(root["_links"]) == sorted(root["_links"])  # sorted by rel, as the standard says
    refused = http.get(link(root, "login/rfc7617"))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic realm=")
    http.auth = httpx.BasicAuth(*AUTH)
    assert http.get(link(root, "login/rfc7617")).status_code == 200
    system = get(http, link(root, "admin/system"))
    assert system["protokollversjon"] == "1.1"
    return root


def test_a_generic_client_discovers_an_arkivdel_picks_a_mappe_and_uploads_a_file(http) -> None:  # type: ignore[no-untyped-def]
    root = login(http)
    structure = get(http, link(root, "arkivstruktur"))
    archives = get(http, link(structure, "arkivstruktur/arkiv"))
    assert archives["count"] == 1
    parts = get(http, link(archives["results"][0], "arkivstruktur/arkivdel"))
    titles = {p["tittel"]: p for p in parts["results"]}
    assert set(titles) == {"Sakarkiv", "Personalmapper"}
    personnel = titles["Personalmapper"]["klassifikasjonssystem"]["klassifikasjonstype"]
    assert personnel == {"kode": "UO", "kodenavn": "Objektbasert"}  # ordered by the person

    # Pick a mappe of the Sakarkiv, create a journalpost in it through ny-journalpost.
    part = titles["Sakarkiv"]
    folders = get(
        http, link(part, "arkivstruktur/mappe"), **{"$filter": "klasse/klasseID eq 'L42'"}
    )
    assert folders["count"] == 2 and len(folders["results"]) == 2
    folder = folders["results"][0]
    assert folder["saksstatus"] == {"kode": "B", "kodenavn": "Under behandling"}
    assert folder["klasse"] == {"klasseID": "L42", "tittel": "Byggesak"}
    new_record = link(folder, "sakarkiv/ny-journalpost")
    template = get(http, new_record)
    record = http.post(
        new_record,
        json={**template, "tittel": "Nabovarsel", "journalposttype": {"kode": "I"}},
        headers={"Content-Type": MEDIA},
    )
    assert record.status_code == 201, record.text
    journalpost = record.json()
    assert journalpost["journalposttype"] == {"kode": "I", "kodenavn": "Inngående dokument"}
    assert link(journalpost, "sakarkiv/saksmappe") == folder["_links"]["self"]["href"]

    # dokumentbeskrivelse -> dokumentobjekt (with the checksum it must get) -> fil.
    description = http.post(
        link(journalpost, "arkivstruktur/ny-dokumentbeskrivelse"),
        json={
            "tittel": "Nabovarsel",
            "tilknyttetRegistreringSom": {"kode": "H"},
            "eksternReferanse": "generisk-klient-1",
        },
        headers={"Content-Type": MEDIA},
    )
    assert description.status_code == 201, description.text
    digest = hashlib.sha256(PDF).hexdigest()
    new_object = link(description.json(), "arkivstruktur/ny-dokumentobjekt")
    fields = {
        "versjonsnummer": 1,
        "variantformat": {"kode": "P"},
        "filnavn": "nabovarsel.pdf",
        "mimeType": "application/pdf",
        "filstoerrelse": len(PDF),
        "sjekksum": digest,
        "sjekksumAlgoritme": "SHA-256",
    }
    wrong = http.post(
        new_object, json={**fields, "sjekksum": "0" * 64}, headers={"Content-Type": MEDIA}
    ).json()
    refused = http.post(
        link(wrong, "arkivstruktur/fil"), content=PDF, headers={"Content-Type": "application/pdf"}
    )
    assert refused.status_code == 400 and "sjekksum" in refused.text  # the standard's 400
    created = http.post(new_object, json=fields, headers={"Content-Type": MEDIA}).json()
    uploaded = http.post(
        link(created, "arkivstruktur/fil"), content=PDF, headers={"Content-Type": "application/pdf"}
    )
    assert uploaded.status_code == 201, uploaded.text
    stored = uploaded.json()
    assert stored["sjekksum"] == digest and stored["sjekksumAlgoritme"] == "SHA-256"
    assert stored["format"] == {"kode": "fmt/276", "kodenavn": "PDF 1.7 - ISO 32000-1:2008"}
    again = http.post(
        link(created, "arkivstruktur/fil"), content=PDF, headers={"Content-Type": "application/pdf"}
    )
    assert again.status_code == 400  # a stored file is never overwritten
    file = http.get(link(stored, "arkivstruktur/fil"), headers={"Accept": "*/*"})
    assert file.content == PDF and file.headers["content-type"] == "application/pdf"

    # Found again by the standard's search field on dokumentbeskrivelse.
    found = get(
        http,
        link(structure, "arkivstruktur/dokumentbeskrivelse"),
        **{"$filter": "eksternReferanse eq 'generisk-klient-1'"},
    )
    assert found["count"] == 1
    assert (
        link(found["results"][0], "arkivstruktur/registrering")
        == (journalpost["_links"]["self"]["href"])
    )


def test_lists_page_filter_and_refuse_as_the_standard_says(http) -> None:  # type: ignore[no-untyped-def]
    root = login(http)
    cases = link(get(http, link(root, "sakarkiv")), "sakarkiv/saksmappe")
    first = get(http, cases, **{"$top": 3})
    assert first["count"] == 4 and len(first["results"]) == 3
    rest = get(http, first["_links"]["next"]["href"])
    assert len(rest["results"]) == 1 and "next" not in rest["_links"]
    seen = {c["mappeID"] for c in first["results"] + rest["results"]}
    assert len(seen) == 4
    empty = get(http, cases, **{"$filter": "startswith(tittel, 'Finnes ikke')"})
    assert empty["count"] == 0 and "results" not in empty and "self" in empty["_links"]
    combined = get(
        http,
        cases,
        **{"$filter": "klasse/klasseID eq 'L42' and contains(tittel, 'garasje')"},
    )
    assert [c["tittel"] for c in combined["results"]] == ["Byggesak – Fjordveien 12, garasje"]
    for bad in ("ukjentFelt eq 1", "tittel eq", "tittel add 1"):
        assert http.get(cases, params={"$filter": bad}).status_code == 400
    assert http.get(cases, params={"$top": "mange"}).status_code == 400
    # Every entity names its own type: the rel whose href equals self (kapittel 6).
    case = first["results"][0]
    assert case["_links"][REL + "sakarkiv/saksmappe/"] == case["_links"]["self"]


def test_bad_requests_get_400_with_a_reason_and_leave_nothing_behind(http) -> None:  # type: ignore[no-untyped-def]
    root = login(http)
    cases = link(get(http, link(root, "sakarkiv")), "sakarkiv/saksmappe")
    folder = get(http, cases, **{"$filter": "klasse/klasseID eq '033'"})["results"][0]
    new_record = link(folder, "sakarkiv/ny-journalpost")
    headers = {"Content-Type": MEDIA}
    assert http.post(new_record, json=["liste"], headers=headers).status_code == 400
    untitled = http.post(new_record, json={"tittel": "", "skjerming": "P"}, headers=headers)
    assert untitled.status_code == 400 and "Tittel må fylles ut" in untitled.text
    record = http.post(
        new_record, json={"tittel": "Notat", "journalposttype": {"kode": "X"}}, headers=headers
    ).json()
    description = http.post(
        link(record, "arkivstruktur/ny-dokumentbeskrivelse"),
        json={"tittel": "Notat", "tilknyttetRegistreringSom": {"kode": "H"}},
        headers=headers,
    ).json()
    bad_number = http.post(
        link(description, "arkivstruktur/ny-dokumentobjekt"),
        json={"versjonsnummer": "første"},
        headers=headers,
    )
    assert bad_number.status_code == 400
    not_pdf = http.post(
        link(description, "arkivstruktur/fil"),
        content=b"PK\x03\x04",
        headers={"Content-Type": "application/zip"},
    )
    assert not_pdf.status_code == 400 and "PDF" in not_pdf.text
    objects = get(http, link(description, "arkivstruktur/dokumentobjekt"))
    assert objects["count"] == 0  # the refused upload left no empty dokumentobjekt
    stored = http.post(
        link(description, "arkivstruktur/fil"),
        content=PDF,
        headers={"Content-Type": "application/pdf"},
    )
    assert stored.status_code == 201 and stored.json()["filstoerrelse"] == len(PDF)

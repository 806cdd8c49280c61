"""The sandbox archive and the robots' client against the parts of the Noark 5
tjenestegrensesnitt (v1.1) beyond reading: login (kapittel 4), relations on every entity
(kapittel 6 and 7), skjerming and korrespondansepart (kapittel 7), updates with ETag
(kapittel 6, "Oppdatere objekter"). Real HTTP against the archive on a loopback port; the general
client uses only relation keys from the standard, starting at the API root."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from robots.web import ServerThread
from sandbox.archive.app import create_app
from tasks.noark5 import Noark5Client, NoarkError

REL = "https://rel.arkivverket.no/noark5/v5/api/"
MEDIA = "application/vnd.noark5+json"
CLIENT = ("robot", "robot-passord")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
JSON = {"Content-Type": MEDIA}


def serve(tmp_path: Path, **options: Any) -> Iterator[str]:
    server = ServerThread(create_app(tmp_path, **options)).start()
    try:
        yield f"{server.url}/api"
    finally:
        server.stop()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path)


@pytest.fixture
def basic_only_api(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path, api_logins=("rfc7617",))


def link(entity: dict[str, Any], rel: str) -> str:
    return str(entity["_links"][REL + rel + "/"]["href"]).split("{", 1)[0]


def get(http: httpx.Client, href: str) -> dict[str, Any]:
    response = http.get(href)
    assert response.status_code == 200, response.text
    return dict(response.json())


def oauth_login(api: str) -> tuple[httpx.Client, dict[str, Any]]:
    """Kapittel 4: the root (no login) announces login/oidc (href: the openid-configuration)
    and login/rfc6749; the client takes its token with the client-credentials grant."""
    http = httpx.Client(headers={"Accept": MEDIA}, timeout=30)
    root = get(http, api)
    configuration = get(http, link(root, "login/oidc"))
    assert configuration["token_endpoint"] == link(root, "login/rfc6749")
    token = httpx.post(
        configuration["token_endpoint"], data={"grant_type": "client_credentials"}, auth=CLIENT
    )
    assert token.status_code == 200 and token.json()["token_type"] == "Bearer"
    http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return http, root


def test_a_general_client_registers_a_record_in_a_mappe_and_uploads_a_file(api: str) -> None:
    """Point 19. Kapittel 6 "Oppkobling og ressurslenker" (only the root URL is known) and the
    Relasjonsnøkler of Mappe and Registrering in kapittel 7: arkivdel -> mappe ->
    ny-registrering -> ny-dokumentbeskrivelse -> ny-dokumentobjekt -> fil."""
    http, root = oauth_login(api)
    structure = get(http, link(root, "arkivstruktur"))
    arkiv = get(http, link(structure, "arkivstruktur/arkiv"))["results"][0]
    arkivdel = get(http, link(arkiv, "arkivstruktur/arkivdel"))["results"][0]
    mappe = get(http, link(arkivdel, "arkivstruktur/mappe"))["results"][0]
    # The mappe is a mappe (kapittel 6 "Identifisere entitetstype") and offers its relations.
    assert link(mappe, "arkivstruktur/mappe") == mappe["_links"]["self"]["href"]
    for listed in ("merknad", "part", "kryssreferanse", "undermappe", "registrering"):
        page = get(http, link(mappe, f"arkivstruktur/{listed}"))
        assert "count" in page and "self" in page["_links"], listed
    note = http.post(
        link(mappe, "arkivstruktur/ny-merknad"),
        json={**get(http, link(mappe, "arkivstruktur/ny-merknad")), "merknadstekst": "Sjekket"},
        headers=JSON,
    )
    assert note.status_code == 201, note.text
    notes = get(http, link(mappe, "arkivstruktur/merknad"))
    assert [n["merknadstekst"] for n in notes["results"]] == ["Sjekket"]

    new = link(mappe, "arkivstruktur/ny-registrering")
    created = http.post(new, json={**get(http, new), "tittel": "Notat"}, headers=JSON)
    assert created.status_code == 201, created.text
    registrering = created.json()
    assert (
        link(registrering, "arkivstruktur/registrering") == (registrering["_links"]["self"]["href"])
    )
    assert link(registrering, "arkivstruktur/mappe") == mappe["_links"]["self"]["href"]
    for listed in ("korrespondansepart", "merknad", "part", "kryssreferanse"):
        assert get(http, link(registrering, f"arkivstruktur/{listed}"))["count"] == 0, listed

    description = http.post(
        link(registrering, "arkivstruktur/ny-dokumentbeskrivelse"),
        json={"tittel": "Notat", "tilknyttetRegistreringSom": {"kode": "H"}},
        headers=JSON,
    ).json()
    digest = hashlib.sha256(PDF).hexdigest()
    dokumentobjekt = http.post(
        link(description, "arkivstruktur/ny-dokumentobjekt"),
        json={"filnavn": "notat.pdf", "mimeType": "application/pdf", "sjekksum": digest},
        headers=JSON,
    ).json()
    # Kapittel 6 "Hente og overføre filer": the file goes to the dokumentobjekt's fil relation.
    uploaded = http.post(
        link(dokumentobjekt, "arkivstruktur/fil"),
        content=PDF,
        headers={"Content-Type": "application/pdf"},
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["sjekksum"] == digest
    file = http.get(link(dokumentobjekt, "arkivstruktur/fil"), headers={"Accept": "*/*"})
    assert file.content == PDF


def test_the_client_prefers_oauth2_and_uses_basic_only_where_nothing_else_is_offered(
    api: str, basic_only_api: str
) -> None:
    """Point 17. Kapittel 4 "Autentisering og Autorisering": OpenID Connect and OAuth 2.0 are
    mandatory, Basic optional; the mechanisms are announced in the root's _links."""
    root = get(httpx.Client(), api)
    assert {REL + "login/oidc/", REL + "login/rfc6749/"} <= set(root["_links"])
    token_endpoint = link(root, "login/rfc6749")
    refused = httpx.post(
        token_endpoint, data={"grant_type": "client_credentials"}, auth=("robot", "feil")
    )
    assert refused.status_code == 401 and refused.json() == {"error": "invalid_client"}
    wrong_grant = httpx.post(token_endpoint, data={"grant_type": "password"}, auth=CLIENT)
    assert wrong_grant.json() == {"error": "unsupported_grant_type"}
    forged = httpx.get(f"{api}/sakarkiv", headers={"Authorization": "Bearer forfalsket"})
    assert forged.status_code == 401 and "Bearer" in forged.headers["www-authenticate"]

    seen: list[str] = []
    with Noark5Client(api, *CLIENT) as client:
        client.http.event_hooks["request"].append(
            lambda request: seen.append(request.headers.get("authorization", "-").split()[0])
        )
        assert client.follow("sakarkiv")["_links"]
        assert client.login == "oidc"
    assert "Bearer" in seen and "Basic" not in seen  # never the password on an API request

    with Noark5Client(basic_only_api, *CLIENT) as client:
        assert client.follow("sakarkiv")["_links"] and client.login == "rfc7617"
    with pytest.raises(NoarkError) as failed, Noark5Client(api, "robot", "feil") as client:
        client.follow("sakarkiv")
    assert failed.value.kind == "rejected"


def screened_record(http: httpx.Client, root: dict[str, Any]) -> dict[str, Any]:
    folders = link(get(http, link(root, "sakarkiv")), "sakarkiv/saksmappe")
    folder = get(http, folders)["results"][0]
    new = link(folder, "sakarkiv/ny-journalpost")
    skjerming = {
        "tilgangsrestriksjon": {"kode": "P"},
        "skjermingshjemmel": "Offl. § 13 jf. fvl. § 13 første ledd nr. 1",
        "skjermingMetadata": [{"kode": "TRO"}, {"kode": "NM"}],
        "skjermingDokument": {"kode": "H"},
        "skjermingsvarighet": 60,
    }
    record = http.post(
        new,
        json={
            **get(http, new),
            "tittel": "Arbeidsavtale – Kari Nordmann",
            "offentligTittel": "Arbeidsavtale",
            "journalposttype": {"kode": "U"},
            "skjerming": skjerming,
        },
        headers=JSON,
    )
    assert record.status_code == 201, record.text
    return dict(record.json())


def test_a_screened_record_carries_the_standards_skjerming(api: str) -> None:
    """Point 15. Kapittel 7 "Skjerming": tilgangsrestriksjon, skjermingshjemmel,
    skjermingMetadata (M502, codes of SkjermingMetadata), skjermingDokument (M503),
    skjermingsvarighet (M504) and skjermingOpphoererDato (M505, computed from M504)."""
    http, root = oauth_login(api)
    record = screened_record(http, root)
    skjerming = record["skjerming"]
    assert [c["kode"] for c in skjerming["skjermingMetadata"]] == ["TRO", "NM"]
    assert skjerming["skjermingMetadata"][1]["kodenavn"] == "Skjerming navn mottaker"
    assert skjerming["skjermingDokument"] == {
        "kode": "H",
        "kodenavn": "Skjerming av hele dokumentet",
    }
    assert skjerming["skjermingsvarighet"] == 60
    journaldato = record["journaldato"]
    assert skjerming["skjermingOpphoererDato"] == f"{int(journaldato[:4]) + 60}{journaldato[4:]}"
    new = link(get(http, link(record, "sakarkiv/saksmappe")), "sakarkiv/ny-journalpost")
    unknown = http.post(
        new,
        json={
            "tittel": "X",
            "offentligTittel": "X",
            "journalposttype": {"kode": "X"},
            "skjerming": {
                "tilgangsrestriksjon": {"kode": "P"},
                "skjermingshjemmel": "Offl. § 13",
                "skjermingMetadata": [{"kode": "NAVN"}],
            },
        },
        headers=JSON,
    )
    assert unknown.status_code == 400 and "skjermingMetadata" in unknown.text


def test_the_web_form_registers_skjerming_and_a_screened_korrespondansepart(
    api: str,
) -> None:
    """Points 15 and 16, through the archive's web form as the robots register: the API then
    shows the skjerming and the korrespondansepart (kapittel 7 "Korrespondansepart": at an
    outgoing document its mottaker), and the offentlig journal never shows a screened name."""
    site = api.removesuffix("/api")
    web = httpx.Client(base_url=site, timeout=30)
    web.post("/login", data={"username": "arkivar", "password": "arkivar-passord"})
    saved = web.post(
        "/saker/1/journalpost/ny",
        data={
            "tittel": "Arbeidsavtale – Kari Nordmann",
            "offentlig_tittel": "Arbeidsavtale",
            "journalposttype": "U",
            "dokumentets_dato": "2020-01-02",
            "tilgangsrestriksjon": "P",
            "skjermingshjemmel": "Offl. § 13 jf. fvl. § 13 første ledd nr. 1",
            "skjerming_metadata": "TRO NM",
            "skjerming_dokument": "H",
            "skjermingsvarighet": "60",
            "korrespondanseparttype": "EM",
            "korrespondansepart_navn": "Kari Nordmann",
            "ekstern_referanse": "skjema-1",
        },
        files={"hoveddokument": ("avtale.pdf", PDF, "application/pdf")},
    )
    assert saved.status_code == 303, saved.text
    http, root = oauth_login(api)
    found = get(
        http,
        link(get(http, link(root, "arkivstruktur")), "arkivstruktur/dokumentbeskrivelse")
        + "?$filter=eksternReferanse eq 'skjema-1'",
    )["results"][0]
    record = get(http, link(found, "arkivstruktur/registrering"))
    assert [c["kode"] for c in record["skjerming"]["skjermingMetadata"]] == ["TRO", "NM"]
    parties = get(http, link(record, "arkivstruktur/korrespondansepart"))["results"]
    assert [(p["korrespondanseparttype"]["kode"], p["navn"]) for p in parties] == [
        ("EM", "Kari Nordmann")
    ]
    journal = httpx.get(f"{site}/offentlig-journal")  # no login: the public journal
    assert journal.status_code == 200 and "Arbeidsavtale" in journal.text
    assert "Kari" not in journal.text and "Mottaker: *****" in journal.text


def test_a_korrespondansepart_added_through_the_api_is_screened_by_the_records_skjerming(
    api: str,
) -> None:
    """Point 16. Kapittel 7 SkjermingMetadata: NM screens the mottaker's name, NA the
    avsender's; a record screened without skjermingMetadata screens all names (M502)."""
    http, root = oauth_login(api)
    record = screened_record(http, root)  # skjermingMetadata TRO NM
    new = link(record, "arkivstruktur/ny-korrespondansepartperson")
    for kind, name in (("EM", "Kari Nordmann"), ("EA", "Personalavdelingen")):
        made = http.post(
            new,
            json={**get(http, new), "korrespondanseparttype": {"kode": kind}, "navn": name},
            headers=JSON,
        )
        assert made.status_code == 201, made.text
        assert link(made.json(), "arkivstruktur/registrering") == record["_links"]["self"]["href"]
    nameless = http.post(new, json={"korrespondanseparttype": {"kode": "EM"}}, headers=JSON)
    assert nameless.status_code == 400
    journal = httpx.get(api.removesuffix("/api") + "/offentlig-journal").text
    assert "Kari Nordmann" not in journal
    assert "Mottaker: *****" in journal and "Avsender: Personalavdelingen" in journal


def test_updates_use_etag_and_if_match_and_the_client_retries_a_stale_one(api: str) -> None:
    """Point 18. Kapittel 6 "Oppdatere objekter": PUT to self with the whole object, ETag for
    optimistic concurrency; a changed object is read again before it is written."""
    http, root = oauth_login(api)
    record = screened_record(http, root)
    self_href = record["_links"]["self"]["href"]
    read = http.get(self_href)
    etag = read.headers["etag"]
    body = {k: v for k, v in read.json().items() if k != "_links"}
    missing = http.put(self_href, json=body, headers=JSON)
    assert missing.status_code == 428
    changed = http.put(
        self_href,
        json={**body, "journalstatus": {"kode": "F"}},
        headers={**JSON, "If-Match": etag},
    )
    assert changed.status_code == 200 and changed.json()["journalstatus"]["kode"] == "F"
    assert changed.headers["etag"] != etag
    stale = http.put(
        self_href,
        json={**body, "journalstatus": {"kode": "E"}},
        headers={**JSON, "If-Match": etag},
    )
    assert stale.status_code == 412
    assert get(http, self_href)["journalstatus"]["kode"] == "F"  # nothing overwritten

    with Noark5Client(api, *CLIENT) as client:
        # Someone else changes the record between the client's read and its write.
        def meddle(request: httpx.Request) -> None:
            if request.method == "PUT" and not meddled:
                meddled.append(True)
                fresh = http.get(self_href)
                http.put(
                    self_href,
                    json={**fresh.json(), "offentligTittel": "Avtale"},
                    headers={**JSON, "If-Match": fresh.headers["etag"]},
                )

        meddled: list[bool] = []
        client.follow("sakarkiv")  # log in
        client.http.event_hooks["request"].append(meddle)
        updated = client.update(client.get(self_href), {"journalstatus": {"kode": "E"}})
        assert meddled and updated["journalstatus"]["kode"] == "E"
        assert updated["offentligTittel"] == "Avtale"  # the other change was kept
        folder = client.get(client.href(updated, "sakarkiv/saksmappe"))
        closed = client.update(folder, {"saksstatus": {"kode": "A"}})
        assert closed["saksstatus"] == {"kode": "A", "kodenavn": "Avsluttet"}
    assert re.fullmatch(r'"\d+-\d+"', etag)


def test_the_robots_check_after_filing_finds_a_skjerming_the_archive_did_not_keep(
    api: str, tmp_path: Path
) -> None:
    """Point 15: after filing, the robot compares the archive's skjerming (kapittel 7
    "Skjerming", M500-M504) with what it registered, by code only (no title or name)."""
    from tasks.noark import Registration, screening_problems

    http, root = oauth_login(api)
    record = screened_record(http, root)  # TRO NM, H, 60 years
    asked = Registration(
        tittel="Arbeidsavtale – Kari Nordmann",
        offentlig_tittel="Arbeidsavtale",
        journalposttype="U",
        dokumentets_dato="2020-01-02",
        tilgangsrestriksjon="P",
        skjermingshjemmel="Offl. § 13",
        ekstern_referanse="x",
        document=tmp_path / "avtale.pdf",
        skjerming_metadata=("NM", "TRO"),
        skjerming_dokument="H",
        skjermingsvarighet=60,
    )
    assert screening_problems(record, asked) == []
    more = Registration(**{**asked.__dict__, "skjerming_metadata": ("TRO", "NM", "NA")})
    problems = screening_problems(record, more)
    assert problems == ["skjermingMetadata er «NM TRO», skulle vært «NA NM TRO»"]
    assert "Kari" not in " ".join(problems)

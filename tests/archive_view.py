"""What the archive holds, read back as any Noark 5 client would: through the standard's
tjenestegrensesnitt with the generic client (tasks/noark5.py), not the sandbox's tables."""

from __future__ import annotations

from typing import Any

from tasks.noark5 import Noark5Client, code_of

AUTH = ("robot", "robot-passord")


def client(box: Any) -> Noark5Client:
    # Reads are retried as any client would: tests with injected faults (HTTP 500 at a rate)
    # read the archive back through them too.
    return Noark5Client(f"{box.archive.url}/api", *AUTH, retry_delays=(0.05,) * 8)


def journalposter(box: Any) -> list[dict[str, Any]]:
    """Every journalpost, each with its dokumentbeskrivelser and their dokumentobjekter
    embedded, and `eksternReferanse` taken from its hoveddokument."""
    with client(box) as c:
        out = []
        for record in c.items(c.href(c.follow("sakarkiv"), "sakarkiv/journalpost")):
            descriptions = c.list(record, "arkivstruktur/dokumentbeskrivelse")
            for description in descriptions:
                description["dokumentobjekt"] = c.list(description, "arkivstruktur/dokumentobjekt")
            record["dokumentbeskrivelse"] = descriptions
            record["eksternReferanse"] = next(
                (
                    d["eksternReferanse"]
                    for d in descriptions
                    if code_of(d["tilknyttetRegistreringSom"]) == "H"
                ),
                None,
            )
            out.append(record)
        return out


def saksmapper(box: Any) -> list[dict[str, Any]]:
    with client(box) as c:
        return list(c.items(c.href(c.follow("sakarkiv"), "sakarkiv/saksmappe")))

"""`runner.py selectors check SYSTEM`: open the live system and report every element whose
locators no longer resolve, with a (masked) screenshot of the page it was looked for on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from robots.locators import SystemSpec
from robots.runtime import BrowserHost, SystemSession
from robots.settings import Settings


@dataclass(frozen=True)
class ElementCheck:
    page: str
    name: str
    status: str  # ok | fallback | missing | optional | unchecked
    detail: str
    screenshot: Path | None = None


def check_system(spec: SystemSpec, settings: Settings, out_dir: Path) -> list[ElementCheck]:
    host = BrowserHost(settings)
    session = SystemSession(host, spec, settings, logger)
    results: list[ElementCheck] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        login_page = spec.login.path if spec.login else None
        order = sorted(spec.check_paths.items(), key=lambda kv: kv[1] != login_page)
        for page_name, path in order:
            if path == login_page:
                session.navigate(session.url(path))
            else:
                session.goto(path)
            page_results = [_check(session, page_name, name) for name in spec.pages[page_name]]
            if any(r.status == "missing" for r in page_results):
                shot = out_dir / f"{spec.system}-{page_name}.png"
                session.page.screenshot(
                    path=shot, full_page=True, mask=session.mask_locators(), mask_color="#000000"
                )
                page_results = [
                    ElementCheck(r.page, r.name, r.status, r.detail, shot)
                    if r.status == "missing"
                    else r
                    for r in page_results
                ]
            results.extend(page_results)
        for page_name, elements in spec.pages.items():
            if page_name not in spec.check_paths:
                results.extend(
                    ElementCheck(page_name, name, "unchecked", "ingen adresse i check_paths")
                    for name in elements
                )
    finally:
        session.close()
        host.close()
    return results


def _check(session: SystemSession, page: str, name: str) -> ElementCheck:
    element = session.spec.element(f"{page}.{name}")
    for index, locator in enumerate(element.locators):
        if locator.build(session.page).count() > 0:
            if index == 0:
                return ElementCheck(page, name, "ok", locator.describe())
            return ElementCheck(
                page,
                name,
                "fallback",
                f"{element.locators[0].describe()} virker ikke; "
                f"reserve {locator.describe()} virker",
            )
    tried = ", ".join(locator.describe() for locator in element.locators)
    if element.optional:
        return ElementCheck(page, name, "optional", f"ikke på siden nå (valgfri): {tried}")
    return ElementCheck(page, name, "missing", f"ingen treff: {tried}")

"""The browser robot runtime: one Chromium per worker process, a fresh context per item.

`SystemSession` is a page object over one target system: it resolves logical element names from
`selectors/<system>.yaml` (with fallbacks), logs in with credentials from the vault, dismisses
known popups, turns HTTP 5xx pages and expired sessions into system faults, and on failure keeps
a masked screenshot, the masked page HTML and a masked Playwright trace as artifacts.
"""

from __future__ import annotations

import contextlib
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

from loguru import logger
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from robots.browser import launch
from robots.locators import SystemSpec, load_system
from robots.masking import mask_text
from robots.settings import Settings
from robots.vault import Vault


class SystemFault(Exception):
    """The target system failed (HTTP 5xx, an error page): a system exception, retried."""


class SessionExpired(SystemFault):
    """The target system logged the robot out in the middle of a flow."""


class SelectorNotFound(SystemFault):
    """No locator of a logical element matched: the page changed or did not load."""


TRANSIENT = (SystemFault, PlaywrightTimeout)

# (system, element) pairs whose locators were resolved once in this process (see locate).
_VERIFIED: set[tuple[str, str]] = set()


class BrowserHost:
    """The worker's browser: launched on first use, relaunched when it has crashed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._playwright: Any = None
        self._browser: Any = None
        self.launches = 0
        self.launch_seconds = 0.0

    def browser(self) -> Any:
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        if self._browser is not None:
            logger.warning("Nettleseren har krasjet eller lukket seg; starter den på nytt")
            self._close_browser()
        if self._playwright is None:
            self._playwright = sync_playwright().start()
        started = time.perf_counter()
        self._browser = launch(
            self._playwright,
            configured=self.settings.browser_path,
            headless=self.settings.headless,
            slow_mo_ms=self.settings.slow_mo_ms,
        )
        self.launch_seconds = time.perf_counter() - started
        self.launches += 1
        return self._browser

    @property
    def pid(self) -> int | None:
        """The browser's main process (a descendant of this worker via Playwright's driver):
        for memory figures, and for tests that kill it to simulate a crash."""
        import psutil

        for proc in psutil.Process().children(recursive=True):
            try:
                if "chrom" in proc.name().lower() and "chrom" not in proc.parent().name().lower():
                    return proc.pid
            except psutil.Error:
                continue
        return None

    def _close_browser(self) -> None:
        with contextlib.suppress(PlaywrightError):
            self._browser.close()
        self._browser = None

    def close(self) -> None:
        if self._browser is not None:
            self._close_browser()
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None


class SystemSession:
    """One system in one item's browser context."""

    def __init__(
        self, host: BrowserHost, spec: SystemSpec, settings: Settings, log: Any, attempt: int = 1
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.log = log
        self.base_url = settings.system_urls.get(spec.system, spec.base_url)
        self.context = host.browser().new_context(
            locale="nb-NO", timezone_id=settings.timezone, base_url=self.base_url
        )
        self.context.set_default_timeout(spec.timeout_ms)
        self.context.set_default_navigation_timeout(spec.navigation_timeout_ms)
        self.tracing = settings.trace == "retain_on_failure" or (
            settings.trace == "on_first_retry" and attempt > 1
        )
        if self.tracing:
            self.context.tracing.start(screenshots=False, snapshots=True, sources=False)
        self.page: Page = self.context.new_page()
        self._server_errors: list[str] = []
        self.page.on("response", self._on_response)
        for popup in spec.popups:
            if popup.check == "every_action":
                dismiss = popup.dismiss
                self.page.add_locator_handler(
                    self._union(popup.detect), lambda _loc, d=dismiss: self._dismiss(d)
                )
        self._page_popups = [p for p in spec.popups if p.check == "after_navigation"]
        self.logged_in = False

    # Elements ---------------------------------------------------------------------------------

    def _candidates(self, name: str) -> list[Locator]:
        return [spec.build(self.page) for spec in self.spec.element(name).locators]

    def _union(self, name: str) -> Locator:
        candidates = self._candidates(name)
        union = candidates[0]
        for candidate in candidates[1:]:
            union = union.or_(candidate)
        return union.first

    def locate(self, name: str, timeout_ms: float | None = None) -> Locator:
        """The element `name`: the first locator that matches, in the YAML's order.

        The first time an element is used in this worker process its locators are tried in
        order (and a fallback in use is reported); after that one union locator does the work,
        so an action costs the browser one round trip, as in a bare Playwright script.
        """
        key = (self.spec.system, name)
        if key in _VERIFIED:
            return self._union(name)
        element = self.spec.element(name)
        candidates = self._candidates(name)
        for attempt in range(2):
            for index, candidate in enumerate(candidates):
                if candidate.count() > 0:
                    _VERIFIED.add(key)
                    if index > 0:
                        self.log.warning(
                            f"{self.spec.system}: {name} fant ikke {element.locators[0].describe()}"
                            f"; brukte reserve {element.locators[index].describe()} "
                            f"(oppdater selectors/{self.spec.system}.yaml)"
                        )
                    return candidate.first
            if attempt == 0:
                try:
                    self._union(name).wait_for(state="attached", timeout=timeout_ms)
                except PlaywrightTimeout:
                    break
        self.check_page()
        tried = ", ".join(spec.describe() for spec in element.locators)
        raise SelectorNotFound(
            f"{self.spec.system}: fant ikke {name} på {self._path()} (prøvde {tried})"
        )

    def all(self, name: str) -> Locator:
        """Every element matching `name` (table rows): the first locator that matches any."""
        first = self.locate(name)  # waits, reports fallbacks, raises if none
        for candidate in self._candidates(name):
            if candidate.count() > 0:
                return candidate
        return first

    def exists(self, name: str) -> bool:
        return any(candidate.count() > 0 for candidate in self._candidates(name))

    def fill(self, name: str, value: str) -> None:
        self.locate(name).fill(value)

    def click(self, name: str) -> None:
        self.locate(name).click()
        if self._page_popups:
            self.page.wait_for_load_state("domcontentloaded")
        self.check_page()

    def text(self, name: str) -> str:
        return self.locate(name).inner_text().strip()

    def select(self, name: str, value: str) -> None:
        self.locate(name).select_option(value)

    def upload(self, name: str, files: list[Path] | Path) -> None:
        self.locate(name).set_input_files(files if isinstance(files, list) else [files])

    # Navigation, login, faults ----------------------------------------------------------------

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path)

    def _path(self) -> str:
        return urlparse(self.page.url).path or "/"

    def goto(self, path: str) -> None:
        """Open a page of the system, logging in (again) when the system asks for it."""
        self.page.goto(self.url(path))
        self.check_page()
        if self.spec.login and self.on_login_page():
            self.login()
            if self._path() != urlparse(self.url(path)).path:
                self.page.goto(self.url(path))
                self.check_page()

    def on_login_page(self) -> bool:
        return self.spec.login is not None and self._path() == self.spec.login.path

    def _on_response(self, response: Any) -> None:
        try:
            if response.status >= 500 and response.request.resource_type == "document":
                self._server_errors.append(f"HTTP {response.status} fra {response.url}")
        except PlaywrightError:
            pass

    def check_page(self) -> None:
        """Raise a system fault if the last page was a server error or the login page."""
        if self._server_errors:
            errors, self._server_errors = self._server_errors, []
            raise SystemFault(f"{self.spec.system}: {errors[-1]}")
        if self.logged_in and self.on_login_page():
            self.logged_in = False
            raise SessionExpired(f"{self.spec.system}: økten er utløpt (sendt til innlogging)")
        for popup in self._page_popups:
            if self._union(popup.detect).count() > 0:
                self._dismiss(popup.dismiss)

    def login(self, credentials: Any = None) -> None:
        """Log in with the vault's credentials. A rejected login is a system fault (the robot
        account needs fixing by an operator); a session that expires at once is tried again."""
        flow = self.spec.login
        if flow is None:
            return
        creds = credentials or Vault(self.settings).get(self.spec.system)
        for attempt in range(3):
            try:
                if not self.on_login_page() or attempt > 0:
                    self.page.goto(self.url(flow.path))
                    self.check_page()
                self.fill(flow.username, creds.username)
                self.fill(flow.password, creds.password)
                self.locate(flow.submit).click()
                self.check_page()
                self._union(flow.success).wait_for(state="attached")
                break
            except (PlaywrightTimeout, SystemFault) as exc:
                reason = str(exc).splitlines()[0]
                if not isinstance(exc, SystemFault) and flow.failure and self.exists(flow.failure):
                    reason = self.text(flow.failure)
                if attempt == 2:
                    raise SystemFault(
                        f"{self.spec.system}: innloggingen som {creds.username!r} lyktes ikke "
                        f"tre ganger: {mask_text(reason)}"
                    ) from None
                self.log.warning(
                    f"{self.spec.system}: innlogging ikke fullført ({reason}); prøver igjen"
                )
        self.logged_in = True
        self.log.info(f"{self.spec.system}: logget inn som {creds.username}")

    def _dismiss(self, name: str) -> None:
        self.log.info(f"{self.spec.system}: lukket popup ({name})")
        self._union(name).click()

    def ensure_logged_in(self) -> None:
        if self.spec.login and not self.logged_in:
            self.login()

    # Failure evidence -------------------------------------------------------------------------

    def mask_locators(self) -> list[Locator]:
        return [
            spec.build(self.page)
            for element in self.spec.pii_elements()
            for spec in element.locators
        ]

    def capture_failure(self, directory: Path) -> list[tuple[str, Path]]:
        """Masked screenshot, masked page HTML and masked trace; what could be captured."""
        directory.mkdir(parents=True, exist_ok=True)
        stem = directory / self.spec.system
        kept: list[tuple[str, Path]] = []
        try:
            shot = stem.with_suffix(".png")
            self.page.screenshot(
                path=shot,
                full_page=True,
                mask=self.mask_locators(),
                mask_color="#000000",
                timeout=10_000,
            )
            kept.append(("screenshot", shot))
        except PlaywrightError as exc:
            self.log.warning(f"Kunne ikke ta skjermbilde: {exc}")
        try:
            html = stem.with_suffix(".html")
            html.write_text(mask_text(self.page.content()), encoding="utf-8")
            kept.append(("html", html))
        except PlaywrightError as exc:
            self.log.warning(f"Kunne ikke lagre sidens HTML: {exc}")
        if self.tracing:
            try:
                trace = stem.with_name(f"{self.spec.system}-trace.zip")
                self.context.tracing.stop(path=trace)
                self.tracing = False
                mask_trace(trace)
                kept.append(("trace", trace))
            except PlaywrightError as exc:
                self.log.warning(f"Kunne ikke lagre Playwright-sporet: {exc}")
        return kept

    def close(self) -> None:
        try:
            if self.tracing:
                self.context.tracing.stop()
            self.context.close()
        except PlaywrightError:
            pass  # the browser may be gone; the context went with it


def mask_trace(path: Path) -> None:
    """Rewrite a trace archive with every text entry masked (secrets typed, fødselsnumre shown)."""
    masked = path.with_suffix(".masking")
    with (
        zipfile.ZipFile(path) as source,
        zipfile.ZipFile(masked, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith(
                (".trace", ".network", ".stacks", ".html", ".json", ".txt", ".css")
            ):
                data = mask_text(data.decode("utf-8", errors="replace")).encode("utf-8")
            target.writestr(info, data)
    masked.replace(path)


def run_step(
    ctx: Any, name: str, action: Callable[[], Any], *, retries: int = 1, delay_seconds: float = 1.0
) -> Any:
    """Run one step, retrying it on a transient fault (HTTP 5xx, session expiry, timeout)
    after logging in again where needed. Separate from the queue's whole-item retry."""
    for attempt in range(retries + 1):
        try:
            with ctx.step(name if attempt == 0 else f"{name} (forsøk {attempt + 1})"):
                if attempt:
                    for session in ctx.sessions.values():
                        session.ensure_logged_in()
                return action()
        except TRANSIENT as exc:
            if attempt == retries:
                raise
            ctx.log.warning(f"Forbigående feil i steget {name}: {exc}; prøver igjen")
            time.sleep(delay_seconds)
    raise AssertionError("unreachable")


def open_system(
    host: BrowserHost, system: str, settings: Settings, log: Any, attempt: int = 1
) -> SystemSession:
    return SystemSession(host, _system_spec(system), settings, log, attempt)


_SPECS: dict[str, tuple[float, SystemSpec]] = {}


def _system_spec(system: str) -> SystemSpec:
    """The parsed selector file, read again only when it changed on disk (a YAML edit after a
    vendor upgrade takes effect with the next item, without restarting the workers)."""
    from robots.locators import SELECTOR_DIR

    path = SELECTOR_DIR / f"{system}.yaml"
    mtime = path.stat().st_mtime if path.exists() else -1.0
    cached = _SPECS.get(system)
    if cached is None or cached[0] != mtime:
        cached = (mtime, load_system(system))
        _SPECS[system] = cached
        _VERIFIED.difference_update({key for key in _VERIFIED if key[0] == system})
    return cached[1]

"""The browser robot runtime: one Chromium per worker process; per system a context and page
that the next item takes over when an item ended well, and a fresh one after a failure.

`SystemSession` is a page object over one target system: it resolves logical element names from
`selectors/<system>.yaml` (with fallbacks), logs in with credentials from the vault, dismisses
known popups, turns HTTP 5xx pages and expired sessions into system faults, and on failure keeps
a masked screenshot, the masked page HTML and a masked Playwright trace as artifacts.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

from loguru import logger
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from robots.browser import SharedChromium, launch
from robots.evidence import mask_trace, masked_screenshot
from robots.faults import (
    CredentialsRejected,
    SelectorNotFound,
    SessionExpired,
    SystemFault,
    SystemStateFault,
    Unreachable,
)
from robots.locators import SystemSpec, load_system, system_url
from robots.masking import mask_text, register_secret
from robots.settings import Settings
from robots.vault import Vault

if TYPE_CHECKING:
    from robots.context import RunContext

__all__ = ["BrowserHost", "SelectorNotFound", "SessionExpired", "SystemFault", "SystemSession"]

TRANSIENT = (SystemFault, PlaywrightTimeout)

# Chromium's network errors that mean "the system cannot be reached" (net/base/net_error_list.h),
# and the HTTP answers of a system (or its proxy) that is down or overloaded.
UNREACHABLE_ERRORS = (
    "net::ERR_CONNECTION_REFUSED",
    "net::ERR_CONNECTION_RESET",
    "net::ERR_CONNECTION_CLOSED",
    "net::ERR_CONNECTION_TIMED_OUT",
    "net::ERR_CONNECTION_FAILED",
    "net::ERR_ADDRESS_UNREACHABLE",
    "net::ERR_NAME_NOT_RESOLVED",
    "net::ERR_NAME_RESOLUTION_FAILED",
    "net::ERR_INTERNET_DISCONNECTED",
    "net::ERR_TIMED_OUT",
    "net::ERR_EMPTY_RESPONSE",
)
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})


def unreachable_reason(exc: BaseException) -> str | None:
    """The network error in a failed navigation that means the system cannot be reached (a
    navigation timeout counts), else None."""
    if isinstance(exc, PlaywrightTimeout):
        return "tidsavbrudd"
    message = str(exc)
    return next((code for code in UNREACHABLE_ERRORS if code in message), None)

# (system, element) pairs whose locators were resolved once in this process (see locate).
_VERIFIED: set[tuple[str, str]] = set()


class BrowserHost:
    """The worker's browser: launched on first use, relaunched when it has crashed."""

    def __init__(self, settings: Settings, shared: SharedChromium | None = None) -> None:
        self.settings = settings
        # A slot of a worker with several (worker_concurrency) connects to the worker's one
        # Chromium instead of launching its own.
        self.shared = shared
        self._playwright: Any = None
        self._browser: Any = None
        self.launches = 0
        self.crashes = 0  # relaunches after the browser died under the worker
        self.launch_seconds = 0.0
        # Logged-in browser state (cookies, local storage) per system, kept in this worker's
        # memory only (never on disk, never in evidence), so a worker logs in once per system
        # and again only when the session has expired (setting reuse_logins).
        self.logins: dict[str, Any] = {}
        self.login_count = 0
        # Called before every login with the system's name; raises (CredentialsRejected) while
        # the system's credentials are marked rejected, so no worker tries them again. The
        # worker sets it (robots.systems); None: no check (a browser host outside a worker).
        self.login_gate: Callable[[str], None] | None = None
        # Each system's context and page, handed back by an item that ended well and taken
        # by the next item of this worker (setting reuse_pages): a fresh context and page cost
        # about 200 ms and a cold page cache per system and item (bench/flows.py).
        self.kept: dict[str, tuple[Any, Page]] = {}

    def take(self, system: str) -> tuple[Any, Page] | None:
        kept = self.kept.pop(system, None)
        if kept is None:
            return None
        context, page = kept
        if page.is_closed() or self._browser is None or not self._browser.is_connected():
            with contextlib.suppress(PlaywrightError):
                context.close()
            return None
        return kept

    def browser(self) -> Any:
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        if self._browser is not None:
            logger.warning("Nettleseren har krasjet eller lukket seg; starter den på nytt")
            self.crashes += 1
            self._close_browser()
        if self._playwright is None:
            self._playwright = sync_playwright().start()
        started = time.perf_counter()
        if self.shared is not None:
            self._browser = self._playwright.chromium.connect(
                self.shared.endpoint(self._playwright), slow_mo=self.settings.slow_mo_ms
            )
        else:
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
                parent = proc.parent()
                parent_name = parent.name().lower() if parent is not None else ""
                if "chrom" in proc.name().lower() and "chrom" not in parent_name:
                    return int(proc.pid)
            except psutil.Error:
                continue
        return None

    def _close_browser(self) -> None:
        self.kept.clear()
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
        self.host = host
        browser = host.browser()
        self._keep = settings.reuse_pages and settings.reuse_logins  # a page holds its login
        kept = host.take(spec.system) if self._keep else None
        reused = host.logins.get(spec.system) if settings.reuse_logins else None
        if kept is not None:
            self.context, self.page = kept
        else:
            self.context = browser.new_context(
                locale=spec.locale,
                timezone_id=settings.timezone,
                base_url=self.base_url,
                storage_state=reused,
            )
            self.context.set_default_timeout(spec.timeout_ms)
            self.context.set_default_navigation_timeout(spec.navigation_timeout_ms)
        self.reused_login = kept is not None or reused is not None
        self.tracing = settings.trace == "retain_on_failure" or (
            settings.trace == "on_first_retry" and attempt > 1
        )
        # A kept page still shows the last item's page (a name, a case) until this item
        # navigates: no evidence is taken from it before that (`capture_failure`), and a trace,
        # whose first snapshot would show it, starts on an emptied page.
        self.shows_this_item = kept is None
        if kept is not None and self.tracing:
            self.page.goto("about:blank")
            self.shows_this_item = True
        if self.tracing:
            self.context.tracing.start(screenshots=False, snapshots=True, sources=False)
        if kept is None:
            self.page = self.context.new_page()
        self._server_errors: list[tuple[int, str]] = []
        self.page.on("response", self._on_response)
        self._handlers: list[Locator] = []
        for popup in spec.popups:
            if popup.check == "every_action":
                dismiss = popup.dismiss
                detect = self._union(popup.detect)
                self.page.add_locator_handler(detect, lambda _loc, d=dismiss: self._dismiss(d))
                self._handlers.append(detect)
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
                    if index > 0 and self._primary_after_settling(candidates[0]):
                        index, candidate = 0, candidates[0]
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

    def _primary_after_settling(self, primary: Locator) -> bool:
        """Before using a fallback, let the page settle and give the first locator a moment:
        right after a navigation a fallback (a label) can be there before the element the
        first locator names is rendered, and a false "fallback in use" warning sends an
        operator to fix a selector that works."""
        with contextlib.suppress(PlaywrightError):
            self.page.wait_for_load_state("load", timeout=self.spec.navigation_timeout_ms)
        try:
            primary.first.wait_for(state="attached", timeout=min(1500, self.spec.timeout_ms))
        except PlaywrightError:
            return False
        return True

    def all(self, name: str) -> Locator:
        """Every element matching `name` (table rows): the first locator that matches any.

        With `trust` in the selectors file (e.g. the results table, an "ingen treff" message),
        an empty result is an empty locator once a trusted element shows the page is the
        expected one; without `trust` at least one match is required (SelectorNotFound
        otherwise), since an empty list cannot be told from a changed page."""
        if self.spec.element(name).trust and not self.exists(name):  # rows or a proof
            return self._candidates(name)[0]  # trusted and empty: count() == 0
        first = self.locate(name)  # waits, reports fallbacks, raises if none
        for candidate in self._candidates(name):
            if candidate.count() > 0:
                return candidate
        return first

    def exists(self, name: str, timeout_ms: float = 0) -> bool:
        """Is the element there? With `timeout_ms`, wait up to that long for it to appear
        (for messages that show after an action).

        A look before an act must not lie: when the element names `trust` elements in the
        selectors file, "not there" is answered only if one of them is on the page (waiting
        for the element or one of them up to the element's timeout); if none is, the page is
        not the one expected and SelectorNotFound is raised (a system error: nothing is
        created on a "not found" that may be wrong). Without `trust` it never raises."""
        if any(candidate.count() > 0 for candidate in self._candidates(name)):
            return True
        if timeout_ms > 0:
            try:
                self._union(name).wait_for(state="attached", timeout=timeout_ms)
                return True
            except PlaywrightError:
                pass
        trust = self.spec.element(name).trust
        if not trust:
            return False
        either = self._union(name)
        for proof in trust:
            either = either.or_(self._union(proof))
        with contextlib.suppress(PlaywrightError):  # the page may still be rendering
            either.first.wait_for(state="attached")
        if any(candidate.count() > 0 for candidate in self._candidates(name)):
            return True
        if not any(self._union(proof).count() > 0 for proof in trust):
            self.check_page()
            raise SelectorNotFound(
                f"{self.spec.system}: kan ikke si om {name} finnes på {self._path()}: siden "
                f"viser ingen av {', '.join(trust)} (er siden endret? se selectors/"
                f"{self.spec.system}.yaml); ingenting er gjort"
            )
        return False

    def wait_for(
        self,
        name: str,
        state: Literal["attached", "detached", "visible", "hidden"] = "visible",
        timeout_ms: float | None = None,
    ) -> None:
        """Wait until the element reaches `state`; a timeout is a system fault that names it."""
        try:
            self._union(name).wait_for(state=state, timeout=timeout_ms)
        except PlaywrightTimeout:
            self.check_page()
            raise SelectorNotFound(
                f"{self.spec.system}: {name} ble ikke {state} på {self._path()}"
            ) from None

    def check(self, name: str) -> None:
        """Tick a checkbox, safe to repeat: an already ticked box stays ticked (a click would
        untick it on a retry)."""
        self.locate(name).set_checked(True)
        self.check_page()

    def uncheck(self, name: str) -> None:
        """Untick a checkbox, safe to repeat."""
        self.locate(name).set_checked(False)
        self.check_page()

    def is_checked(self, name: str) -> bool:
        """Is the checkbox ticked?"""
        return self.locate(name).is_checked()

    def fill(self, name: str, value: str) -> None:
        """Fill a field (replaces what is there: safe to repeat)."""
        self.locate(name).fill(value)

    def click(self, name: str) -> None:
        """Click an element; then the page is checked for HTTP 5xx and an expired session. A
        click that changes state is not safe to repeat: look before you click."""
        self.locate(name).click()
        if self._page_popups:
            self.page.wait_for_load_state("domcontentloaded")
        self.check_page()

    def text(self, name: str) -> str:
        """The element's visible text, stripped."""
        return self.locate(name).inner_text().strip()

    def select(self, name: str, value: str) -> None:
        """Choose an option in a select (safe to repeat): by value when an option has that
        value, else by its label. Prefer values: a system may translate its labels by the
        browser's language (the system's `locale`), its values stay."""
        element = self.locate(name)
        has_value = element.evaluate(
            "(el, v) => [...el.options].some((o) => o.value === v)", value
        )
        if has_value:
            element.select_option(value=value)
        else:
            element.select_option(label=value)

    def attribute(self, name: str, attr: str) -> str | None:
        """The element's attribute `attr` (e.g. href, data-*), or None where it has none."""
        return self.locate(name).get_attribute(attr)

    def row_cells(self, name: str) -> list[list[str]]:
        """The cells' visible text of every row `name` matches (as `all()`: an empty list only
        when a trusted element shows the page is the expected one), read in one round trip to
        the browser instead of one per row."""
        cells: list[list[str]] = self.all(name).evaluate_all(
            """(rows) => rows.map((row) => [...row.querySelectorAll('td')].map(
                 (cell) => (cell.innerText || cell.textContent || '').trim()))"""
        )
        return cells

    def read_pages(
        self, page_path: Callable[[int], str], rows: str, next_page: str, *, tries: int = 3
    ) -> list[list[str]]:
        """Every row's cells of a paged list, page 1, 2, ... opened by `page_path(n)` until a
        page has no `next_page`. Each page is tried up to `tries` times on its own after a
        transient fault (HTTP 5xx, an expired session: `goto` logs in again, a timeout), so a
        long list is read through faults instead of starting over at page 1; a fault of the
        system's state (rejected login, unreachable) is raised at once."""
        cells: list[list[str]] = []
        page = 1
        while True:
            for attempt in range(tries):
                try:
                    self.goto(page_path(page))
                    found, more = self.row_cells(rows), self.exists(next_page)
                    break
                except SystemStateFault:
                    raise
                except TRANSIENT as exc:
                    if attempt == tries - 1:
                        raise
                    said = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    self.log.warning(
                        f"{self.spec.system}: side {page} feilet ({said}); prøver igjen"
                    )
            cells.extend(found)
            if not more:
                return cells
            page += 1

    def table_rows(self, name: str) -> list[dict[str, str]]:
        """The table `name` read into rows: one dict per body row, keyed by the header cells'
        text (in column order), values the cells' visible text, stripped."""
        rows: list[dict[str, str]] = self.locate(name).evaluate(
            """(table) => {
              const text = (el) =>
                (el.innerText || el.textContent || '').replace(/\\s+/g, ' ').trim();
              const head = table.tHead ? table.tHead.rows[0] : table.rows[0];
              const keys = head ? [...head.cells].map(text) : [];
              const body = [...table.tBodies].flatMap((b) => [...b.rows]).filter((r) => r !== head);
              return body.map((row) => Object.fromEntries(
                [...row.cells].map((cell, i) => [keys[i] || `kolonne ${i + 1}`, text(cell)])));
            }"""
        )
        return rows

    @property
    def current_url(self) -> str:
        """The page's URL now (after redirects), with its query."""
        return str(self.page.url)

    @property
    def current_path(self) -> str:
        """The page's path now, relative to the system's base URL (`/ansatte/7` also where
        the base URL has a path of its own)."""
        path = self._path()
        base = urlparse(self.base_url).path.rstrip("/")
        if base and (path == base or path.startswith(base + "/")):
            path = path[len(base) :] or "/"
        return path

    def upload(self, name: str, files: list[Path] | Path) -> None:
        """Set the file(s) of a file input."""
        self.locate(name).set_input_files(files if isinstance(files, list) else [files])

    # Navigation, login, faults ----------------------------------------------------------------

    def url(self, path: str) -> str:
        """An absolute URL of the system (base URL from the selectors file or system_urls)."""
        return system_url(self.base_url, path)

    def _path(self) -> str:
        return urlparse(self.page.url).path or "/"

    def navigate(self, url: str) -> None:
        """`page.goto`, with a system that cannot be reached said as such (Unreachable)."""
        try:
            self.page.goto(url)
        except PlaywrightError as exc:
            reason = unreachable_reason(exc)
            if reason is None:
                raise
            raise Unreachable(
                self.spec.system,
                f"{self.spec.system} kan ikke nås ({reason}) på {urlparse(url).path or '/'}",
            ) from None

    def goto(self, path: str) -> None:
        """Open a page of the system, logging in (again) when the system asks for it."""
        self.navigate(self.url(path))
        self.shows_this_item = True
        self.check_page()
        if self.reused_login and not self.logged_in and not self.on_login_page():
            self.logged_in = True  # the worker's earlier login still holds
        if self.spec.login and self.on_login_page():
            self.login()
            if self._path() != urlparse(self.url(path)).path:
                self.navigate(self.url(path))
                self.check_page()

    def on_login_page(self) -> bool:
        """Is the page the system's login page?"""
        return self.spec.login is not None and self._path() == self._login_path()

    def _login_path(self) -> str:
        assert self.spec.login is not None
        return urlparse(self.url(self.spec.login.path)).path or "/"

    def _on_response(self, response: Any) -> None:
        try:
            if response.status >= 500 and response.request.resource_type == "document":
                self._server_errors.append(
                    (response.status, f"HTTP {response.status} fra {response.url}")
                )
        except PlaywrightError:
            pass

    def check_page(self) -> None:
        """Raise a system fault if the last page was a server error or the login page."""
        if self._server_errors:
            errors, self._server_errors = self._server_errors, []
            status, said = errors[-1]
            if status in UNAVAILABLE_STATUSES:
                raise Unreachable(self.spec.system, f"{self.spec.system} svarer ikke: {said}")
            raise SystemFault(f"{self.spec.system}: {said}")
        if self.logged_in and self.on_login_page():
            self.logged_in = False
            raise SessionExpired(f"{self.spec.system}: økten er utløpt (sendt til innlogging)")
        for popup in self._page_popups:
            if self._union(popup.detect).count() > 0:
                self._dismiss(popup.dismiss)

    def login(self, credentials: Any = None) -> None:
        """Log in with the vault's credentials.

        A rejected login (the login block's `failure` element shows after the submit) raises
        CredentialsRejected at once: trying the same password again would only lock the
        account, so the worker marks the system's credentials rejected and its items wait for
        an operator (robots.systems). A system that cannot be reached raises Unreachable. A
        session that expires at once, or a submit that times out, is tried again (three
        times in all).

        A login can succeed slowly: the submit times out while the system has in fact logged
        the robot in (and, asked for its login page again, sends a logged-in user onward). So
        before filling the form, and after every timeout, the runtime first looks for the
        login's `success` element, and is done if it is there."""
        flow = self.spec.login
        if flow is None:
            return
        if self.host.login_gate is not None:
            self.host.login_gate(self.spec.system)  # raises while the credentials are rejected
        creds = credentials or Vault(self.settings).get(self.spec.system)
        for attempt in range(3):
            try:
                if not self.on_login_page() or attempt > 0:
                    if attempt > 0 and self._already_logged_in():
                        break
                    self.navigate(self.url(flow.path))
                    self.shows_this_item = True
                    self.check_page()
                    if not self.on_login_page() and self._already_logged_in():
                        break  # the system sent a logged-in user onward
                self._submit_login(creds)
                break
            except SystemStateFault:
                raise
            except (PlaywrightError, SystemFault) as exc:
                if not isinstance(exc, SystemFault) and self._login_went_on():
                    self.log.info(f"{self.spec.system}: innloggingen var treg, men lyktes")
                    break
                reason = str(exc).splitlines()[0]
                if attempt == 2:
                    raise SystemFault(
                        f"{self.spec.system}: innloggingen som {creds.username!r} lyktes ikke "
                        f"tre ganger: {mask_text(reason)}"
                    ) from None
                self.log.warning(
                    f"{self.spec.system}: innlogging ikke fullført ({reason}); prøver igjen"
                )
        self.logged_in = True
        self.host.login_count += 1
        with contextlib.suppress(PlaywrightError):
            state = self.context.storage_state()
            for cookie in state.get("cookies", []):
                register_secret(cookie.get("value"))  # session cookies never show in evidence
            if self.settings.reuse_logins:
                self.host.logins[self.spec.system] = state
        self.log.info(f"{self.spec.system}: logget inn som {creds.username}")

    def _submit_login(self, creds: Any) -> None:
        """Fill and submit the login form, then wait for whichever comes first: the success
        element (logged in) or the failure element (refused: CredentialsRejected, at once).

        The failure element may already be on the login page before the submit (a system that
        says "your session expired" with the same element): only a failure shown by the answer
        to this submit counts, that is on a new page, or with another text than before."""
        flow = self.spec.login
        assert flow is not None
        stale = self._failure_text()
        self.fill(flow.username, creds.username)
        self.fill(flow.password, creds.password)
        with contextlib.suppress(PlaywrightError):  # a mark the next document does not have
            self.page.evaluate("() => { window.__rpaLoginSent = true; }")
        self.locate(flow.submit).click()
        with contextlib.suppress(PlaywrightError):  # a form post's answer: a new document
            # (capped: a login that answers in place, or slowly, is read by its elements below)
            self.page.wait_for_function(
                "() => window.__rpaLoginSent !== true",
                timeout=min(5000, self.spec.navigation_timeout_ms),
            )
        with contextlib.suppress(PlaywrightError):
            self.page.wait_for_load_state("load", timeout=self.spec.navigation_timeout_ms)
        try:
            answered = bool(self.page.evaluate("() => window.__rpaLoginSent !== true"))
        except PlaywrightError:
            answered = False
        self.check_page()
        answer = self._union(flow.success)
        if flow.failure is not None:
            answer = answer.or_(self._union(flow.failure)).first
        answer.wait_for(state="attached")
        if self._already_logged_in():
            return
        said = self._failure_text()
        expired = flow.expired is not None and self.exists(flow.expired)
        if said is not None and not expired and (answered or said != stale):
            raise CredentialsRejected(
                self.spec.system,
                f"{self.spec.system}: innloggingen som {creds.username!r} ble avvist "
                f"({mask_text(said)}); ingen nye forsøk før innloggingen er fornyet",
            )
        if expired and answered:  # the new session expired at once: log in again now
            raise SessionExpired(f"{self.spec.system}: økten utløp rett etter innloggingen")
        if said is not None:  # an old message: wait for the answer to show itself
            self._union(flow.success).wait_for(state="attached")

    def _failure_text(self) -> str | None:
        """The login block's failure element's text, if it is on the page."""
        flow = self.spec.login
        if flow is None or flow.failure is None or not self.exists(flow.failure):
            return None
        try:
            return self.text(flow.failure)
        except PlaywrightError:
            return None

    def _already_logged_in(self) -> bool:
        """Is the login's success element on the page (and the page not the login page)?"""
        flow = self.spec.login
        if flow is None:
            return True
        try:
            return not self.on_login_page() and self._union(flow.success).count() > 0
        except PlaywrightError:
            return False

    def _login_went_on(self) -> bool:
        """After a timeout in the login (no failure message shown): wait, within the navigation
        timeout, for the browser to leave the login page (a slow answer to the submit is still
        on its way), then look for the success element. Going to the login page again while
        that answer is pending would interrupt it."""
        flow = self.spec.login
        if flow is None:
            return True
        try:
            self.page.wait_for_url(
                lambda url: (urlparse(url).path or "/") != self._login_path(),
                timeout=self.spec.navigation_timeout_ms,
            )
            self.page.wait_for_load_state("load", timeout=self.spec.navigation_timeout_ms)
        except PlaywrightError:
            return False
        return self._already_logged_in()

    def _dismiss(self, name: str) -> None:
        self.log.info(f"{self.spec.system}: lukket popup ({name})")
        self._union(name).click()

    def start_logged_in(self) -> None:
        """Log in now, before the robot's first look-up (`ctx.open`): a system that also
        shows pages to anonymous visitors would otherwise answer it anonymously. A login the
        worker kept (reuse_logins) is used as it is, so no item logs in again; should it have
        expired, the system sends the first page to its login page and goto logs in then."""
        if self.spec.login is None or self.logged_in:
            return
        if self.reused_login:
            self.log.info(f"{self.spec.system}: bruker innloggingen arbeideren har fra før")
            return
        self.login()

    def ensure_logged_in(self) -> None:
        """Log in unless this session is logged in (run_step calls it before a retry)."""
        if self.spec.login and not self.logged_in:
            self.login()

    # Failure evidence -------------------------------------------------------------------------

    def mask_locators(self) -> list[Locator]:
        """Locators of every element the selectors file marks `pii` or `secret`."""
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
        if not self.shows_this_item:
            self.log.info(
                f"{self.spec.system}: siden er ikke åpnet i dette elementet (den viser forrige "
                "elements side); ingen skjermbilde eller HTML"
            )
            return kept
        try:
            shot = stem.with_suffix(".png")
            covered = masked_screenshot(self.page, shot, self.mask_locators())
            if covered:
                self.log.info(
                    f"Skjermbildet: {len(covered)} personopplysninger på siden er sladdet"
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

    def start_tracing(self) -> None:
        """Record a trace from now on (a retried step), unless one is recording already."""
        if not self.tracing and self.settings.trace != "off":
            with contextlib.suppress(PlaywrightError):
                self.context.tracing.start(screenshots=False, snapshots=True, sources=False)
                self.tracing = True

    def close(self, keep: bool = False) -> None:
        """Stop the trace (not kept); hand the context and page back to the worker for its
        next item (`keep`: the item ended well, and the setting reuse_pages), or close them."""
        try:
            if self.tracing:
                self.context.tracing.stop()
                self.tracing = False
            # This item's listeners go: the next item's session adds its own.
            self.page.remove_listener("response", self._on_response)
            for detect in self._handlers:
                self.page.remove_locator_handler(detect)
            if keep and self._keep and not self.page.is_closed():
                # Handed on as it is (cookies, cache, the page): the next session takes no
                # evidence from it before its own first navigation (`shows_this_item`).
                self.host.kept[self.spec.system] = (self.context, self.page)
                return
            self.context.close()
        except PlaywrightError:
            with contextlib.suppress(PlaywrightError):
                self.context.close()  # the browser may be gone; the context went with it


def run_step(
    ctx: RunContext,
    name: str,
    action: Callable[[], Any],
    *,
    retries: int = 1,
    delay_seconds: float = 1.0,
) -> Any:
    """Run one step, retrying it on a transient fault (HTTP 5xx, session expiry, timeout)
    after logging in again where needed. Separate from the queue's whole-item retry."""
    first: BaseException | None = None
    for attempt in range(retries + 1):
        try:
            with ctx.step(name if attempt == 0 else f"{name} (forsøk {attempt + 1})"):
                if attempt:
                    for session in ctx.sessions.values():
                        session.start_tracing()  # evidence of the retry, if it fails too
                        session.ensure_logged_in()
                return action()
        except SystemStateFault:
            raise  # the system's state changes, not a step to retry (robots.systems)
        except TRANSIENT as exc:
            first = first or exc
            if attempt == retries:
                if first is not exc and _cause(first) != _cause(exc):
                    with contextlib.suppress(AttributeError):
                        # An attribute of our own on the exception, read by the worker.
                        setattr(exc, "_rpa_first_cause", _cause(first))  # noqa: B010
                raise
            ctx.log.warning(f"Forbigående feil i steget {name}: {exc}; prøver igjen")
            time.sleep(delay_seconds)
    raise AssertionError("unreachable")


def _cause(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def open_system(
    host: BrowserHost, system: str, settings: Settings, log: Any, attempt: int = 1
) -> SystemSession:
    return SystemSession(host, system_spec(system), settings, log, attempt)


_SPECS: dict[str, tuple[float, SystemSpec]] = {}


def system_spec(system: str) -> SystemSpec:
    """The parsed selector file, read again only when it changed on disk (a YAML edit after a
    vendor upgrade takes effect with the next item, without restarting the workers)."""
    from robots.locators import selector_dir

    path = selector_dir() / f"{system}.yaml"
    from robots import provenance

    provenance.read(path)
    mtime = path.stat().st_mtime if path.exists() else -1.0
    cached = _SPECS.get(system)
    if cached is None or cached[0] != mtime:
        cached = (mtime, load_system(system))
        _SPECS[system] = cached
        _VERIFIED.difference_update({key for key in _VERIFIED if key[0] == system})
    return cached[1]

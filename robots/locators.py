"""The object repository: `selectors/<system>.yaml` maps logical names to Playwright locators.

A vendor UI change is a YAML edit. Each element has ordered fallbacks (css, role + name, label,
text, test id, placeholder) and flags: `pii` (masked in screenshots and logs) and `secret` (its
value is never logged). Files are validated when loaded; a broken file gives an error that names
the file, the key and what is wrong.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import soupsieve
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


def selector_dir() -> Path:
    """The object repository (setting `selectors_dir`)."""
    from robots.settings import get_settings

    return get_settings().selectors_path


LOCATOR_KINDS = ("css", "role", "label", "text", "test_id", "placeholder")


class SelectorFileError(ValueError):
    """A selector file cannot be used; the message names the file, the key and the problem."""


# Playwright's own additions to CSS, which a CSS parser does not know.
_PLAYWRIGHT_CSS = re.compile(
    r":(has-text|text|text-is|text-matches|visible|nth-match|right-of|left-of|above|below|near)\b"
)
_ENGINE_PREFIX = re.compile(
    r"^(text|xpath|id|nth|visible|data-testid|data-test-id|data-test|internal:\w+)="
)


def check_css(selector: str) -> None:
    """Raise ValueError naming the problem if `selector` is not a CSS selector Playwright can
    use: each `>>` part is parsed as CSS (soupsieve), Playwright's pseudo-classes allowed."""
    for part in (p.strip() for p in selector.split(">>")):
        if not part:
            raise ValueError(f"empty part in CSS selector {selector!r}")
        if _ENGINE_PREFIX.match(part):
            continue
        part = part.removeprefix("css=")
        if _PLAYWRIGHT_CSS.search(part):
            if not _balanced(part):
                raise ValueError(f"unbalanced brackets or quotes in CSS selector {part!r}")
            continue
        try:
            soupsieve.compile(part)
        except soupsieve.SelectorSyntaxError as exc:
            reason = str(exc).strip().splitlines()[0]
            raise ValueError(f"invalid CSS selector {part!r}: {reason}") from None


def _balanced(text: str) -> bool:
    pairs, stack, quote = {")": "(", "]": "["}, [], ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([":
            stack.append(char)
        elif char in ")]" and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack and not quote


def system_url(base_url: str, path: str) -> str:
    """An absolute URL for `path` on a system: page paths are relative to the base URL,
    including its path (`/ansatte` under `http://host/hr` is `http://host/hr/ansatte`);
    `urljoin` would drop the base's path for a path that starts with `/`. An absolute URL is
    used as it is."""
    if "://" in path.split("?", 1)[0]:
        return path
    return base_url.rstrip("/") + "/" + path.lstrip("/")


class LocatorSpec(BaseModel):
    """One way to find an element; exactly one of the kinds."""

    model_config = ConfigDict(extra="forbid")

    css: str | None = None
    role: str | None = None
    name: str | None = None  # accessible name, with role
    label: str | None = None
    text: str | None = None
    test_id: str | None = None
    placeholder: str | None = None
    exact: bool = False
    nth: int | None = None

    @field_validator("css")
    @classmethod
    def _valid_css(cls, value: str | None) -> str | None:
        if value is not None:
            check_css(value)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> LocatorSpec:
        kinds = [k for k in LOCATOR_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(LOCATOR_KINDS)} (got {kinds or 'none'})"
            )
        if self.name is not None and self.role is None:
            raise ValueError("name is only allowed together with role")
        return self

    def describe(self) -> str:
        kind = next(k for k in LOCATOR_KINDS if getattr(self, k) is not None)
        value = getattr(self, kind)
        extra = f" name={self.name!r}" if self.name else ""
        return f"{kind}={value!r}{extra}"

    def build(self, scope: Any) -> Any:
        """A Playwright locator for this spec inside `scope` (a page, frame or locator)."""
        if self.css is not None:
            locator = scope.locator(self.css)
        elif self.role is not None:
            locator = scope.get_by_role(self.role, name=self.name, exact=self.exact or None)
        elif self.label is not None:
            locator = scope.get_by_label(self.label, exact=self.exact)
        elif self.text is not None:
            locator = scope.get_by_text(self.text, exact=self.exact)
        elif self.test_id is not None:
            locator = scope.get_by_test_id(self.test_id)
        else:
            locator = scope.get_by_placeholder(self.placeholder, exact=self.exact)
        return locator.nth(self.nth) if self.nth is not None else locator


class ElementSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locators: list[LocatorSpec] = Field(min_length=1)
    pii: bool = False
    secret: bool = False
    optional: bool = False  # only shown now and then (errors, popups): not required by a check
    description: str = ""
    # Elements that prove the page is the one expected (a results container, an "ingen treff"
    # message). `exists()` and `all()` say "none" for this element only when one of them is
    # there; otherwise the page is not trusted and they raise SelectorNotFound (a system
    # error), so a renamed results table is never read as "not found" and acted on.
    trust: list[str] = Field(default_factory=list)


class LoginFlow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = "/login"
    username: str  # logical names, e.g. login.username
    password: str
    submit: str
    success: str  # an element that is only there when logged in
    failure: str | None = None  # an element that shows a failed login
    # An element that says the session expired (some systems show it in the same place as a
    # refused login): with it on the page, the failure element is not read as a refusal.
    expired: str | None = None


class PopupSpec(BaseModel):
    """A modal that can appear at any time; the runtime dismisses it whenever it shows."""

    model_config = ConfigDict(extra="forbid")

    detect: str
    dismiss: str
    # every_action: Playwright checks before each action (catches popups that appear at any
    # time; one extra browser round trip per action). after_navigation: checked once per page
    # load, enough for popups the system renders with the page.
    check: Literal["every_action", "after_navigation"] = "every_action"


class SystemSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = ""
    base_url: str
    locale: str = Field(
        default="nb-NO",
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        description="the browser's language towards this system (Accept-Language, dates, "
        "numbers): some systems translate option labels by it",
    )
    timeout_ms: int = Field(default=10_000, ge=100, le=600_000)
    navigation_timeout_ms: int = Field(default=30_000, ge=100, le=600_000)
    login: LoginFlow | None = None
    health: str = Field(
        default="",
        description="path a probe GETs while the system's circuit breaker is open (robots."
        "systems); empty: the login page, else /",
    )
    popups: list[PopupSpec] = Field(default_factory=list)
    check_paths: dict[str, str] = Field(
        default_factory=dict, description="page -> path that shows it, for `selectors check`"
    )
    pages: dict[str, dict[str, ElementSpec]]

    @field_validator("pages", mode="before")
    @classmethod
    def _short_forms(cls, pages: Any) -> Any:
        """Allow `name: [locator, ...]` as a short form of `name: {locators: [...]}`."""
        if not isinstance(pages, dict):
            return pages
        return {
            page: (
                {
                    name: {"locators": spec} if isinstance(spec, list) else spec
                    for name, spec in elements.items()
                }
                if isinstance(elements, dict)
                else elements
            )
            for page, elements in pages.items()
        }

    @model_validator(mode="after")
    def _references_exist(self) -> SystemSpec:
        for name in self._referenced():
            if self.find(name) is None:
                raise ValueError(f"refers to unknown element {name!r} (pages.<page>.<name>)")
        for page in self.check_paths:
            if page not in self.pages:
                raise ValueError(f"check_paths names unknown page {page!r}")
        return self

    def _referenced(self) -> list[str]:
        names: list[str] = []
        if self.login:
            names += [
                self.login.username,
                self.login.password,
                self.login.submit,
                self.login.success,
            ]
            names += [self.login.failure] if self.login.failure else []
            names += [self.login.expired] if self.login.expired else []
        for popup in self.popups:
            names += [popup.detect, popup.dismiss]
        for _, spec in self.all_elements():
            names += spec.trust
        return names

    def find(self, name: str) -> ElementSpec | None:
        page, _, element = name.partition(".")
        return self.pages.get(page, {}).get(element)

    def element(self, name: str) -> ElementSpec:
        spec = self.find(name)
        if spec is None:
            known = ", ".join(f"{p}.{e}" for p, els in self.pages.items() for e in els)
            raise KeyError(f"{self.system}: ukjent element {name!r}. Kjente: {known}")
        return spec

    def all_elements(self) -> list[tuple[str, ElementSpec]]:
        return [(f"{p}.{e}", spec) for p, els in self.pages.items() for e, spec in els.items()]

    def pii_elements(self) -> list[ElementSpec]:
        return [spec for _, spec in self.all_elements() if spec.pii or spec.secret]


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(toppnivå)"


def load_system(system: str, directory: Path | None = None) -> SystemSpec:
    """Load and validate `selectors/<system>.yaml`."""
    directory = directory or selector_dir()
    path = directory / f"{system}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in directory.glob("*.yaml"))
        raise SelectorFileError(
            f"{path}: finnes ikke. Kjente systemer: {', '.join(known) or '(ingen)'}"
        )
    return parse_system(path.read_text(encoding="utf-8"), path)


def parse_system(text: str, path: Path | str = "<tekst>") -> SystemSpec:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (linje {mark.line + 1}, kolonne {mark.column + 1})" if mark else ""
        raise SelectorFileError(
            f"{path}: ikke gyldig YAML{where}: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(raw, dict):
        raise SelectorFileError(f"{path}: forventet en YAML-mapping på toppnivå")
    try:
        return SystemSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "\n  ".join(f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise SelectorFileError(f"{path}:\n  {problems}") from None

"""Task definitions and their discovery from the tasks/ package.

A task is a function decorated with `@task`, declaring its input model (validated at submit time),
the systems it touches (for per-system concurrency limits) and how many attempts it gets.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from robots.context import RunContext
    from robots.settings import Settings


class BusinessError(Exception):
    """The input or a business rule is wrong. Not retried; the message is shown to the caseworker
    in plain Norwegian, so write it for them."""


class UnknownTask(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"Ukjent oppgave {name!r}. Kjente oppgaver: {', '.join(sorted(known)) or '(ingen)'}"
        )
        self.name = name


class TaskPackageError(ImportError):
    """A configured task package cannot be imported; the message names it and the setting."""


class InvalidPayload(ValueError):
    """The payload does not fit the task's input model; one line per field."""

    def __init__(self, task: str, errors: list[tuple[str, str]]) -> None:
        self.task = task
        self.errors = errors
        lines = "\n".join(f"  {loc}: {msg}" for loc, msg in errors)
        super().__init__(f"Ugyldige inndata for {task}:\n{lines}")


TaskFunc = Callable[["RunContext", Any], dict[str, Any] | None]


@dataclass(frozen=True)
class FileUpload:
    """A task that takes a file from a person (the console's submit form offers a file field):
    `store(settings, filename, content)` keeps the file where the task will look for it and
    returns the payload fields that name it (`fields`, which the form then does not ask for).
    The task owns where its files go; the console knows nothing of inboxes."""

    store: Callable[[Settings, str, bytes], dict[str, str]]
    fields: tuple[str, ...]
    label: str = "Fil"  # the file field's label in the form


@dataclass(frozen=True)
class Processing:
    """What a task does with personal data, for the record of processing activities
    (behandlingsprotokoll, GDPR art. 30) and the documentation of the automation's legal
    content (forvaltningsloven § 13): `runner.py tasks describe` and `tasks protocol`."""

    purpose: str
    personal_data: tuple[str, ...] = ()
    legal_basis: str = ""
    recipients: tuple[str, ...] = ()
    retention: str = ""


@dataclass(frozen=True)
class Task:
    name: str
    func: TaskFunc
    input_model: type[BaseModel]
    systems: tuple[str, ...] = ()
    max_attempts: int | None = None  # None: the default_max_attempts setting
    description: str = ""
    tags: tuple[str, ...] = field(default=())
    roles: tuple[str, ...] = ("operator", "admin")  # who may start it (admin always may)
    upload: FileUpload | None = None
    title: str = ""  # a plain Norwegian name for people (the console's catalogue)
    processing: Processing | None = None
    config: tuple[str, ...] = ()  # the config files (in config_dir) whose rules it applies
    preload: tuple[str, ...] = ()  # modules a worker imports before its first item

    @property
    def display_title(self) -> str:
        return self.title or self.name

    def validate(self, payload: Any) -> BaseModel:
        """The payload as the input model, or InvalidPayload naming each wrong field. A key
        the model does not have is wrong even where the model would ignore it (a misspelt
        field must not quietly become its default)."""
        from robots.masking import mask_text

        unknown: list[tuple[str, str]] = []  # named masked: a key may be a fødselsnummer
        if isinstance(payload, dict):
            fields = self.input_model.model_fields
            known = set(fields) | {f.alias for f in fields.values() if f.alias}
            unknown = [(mask_text(str(k)[:100]), "ukjent felt") for k in payload if k not in known]
        try:
            valid = self.input_model.model_validate(payload)
        except ValidationError as exc:
            errors = [
                (".".join(str(p) for p in e["loc"]) or "(hele)", mask_text(_norwegian(e)))
                for e in exc.errors()
            ]
            named = {where for where, _ in errors}
            raise InvalidPayload(
                self.name, errors + [u for u in unknown if u[0] not in named]
            ) from None
        if unknown:
            raise InvalidPayload(self.name, unknown)
        return valid


_MESSAGES = {
    "missing": "mangler (påkrevd felt)",
    "extra_forbidden": "ukjent felt",
    "int_parsing": "må være et heltall",
    "int_type": "må være et heltall",
    "float_parsing": "må være et tall",
    "float_type": "må være et tall",
    "string_type": "må være tekst",
    "date_from_datetime_parsing": "må være en dato (ÅÅÅÅ-MM-DD)",
    "date_parsing": "må være en dato (ÅÅÅÅ-MM-DD)",
    "date_type": "må være en dato (ÅÅÅÅ-MM-DD)",
    "bool_parsing": "må være true eller false",
    "model_type": "må være et JSON-objekt",
    "dict_type": "må være et JSON-objekt",
}


def _norwegian(error: Any) -> str:
    if error["type"] == "value_error":  # our own validators: keep their (Norwegian) message
        return str(error["ctx"]["error"]) if "ctx" in error else str(error["msg"])
    if error["type"] == "literal_error":
        return f"må være en av {error['ctx']['expected']}"
    return _MESSAGES.get(error["type"], str(error["msg"]))


_REGISTRY: dict[str, Task] = {}


def task(
    name: str,
    *,
    input: type[BaseModel],
    systems: tuple[str, ...] | list[str] = (),
    max_attempts: int | None = None,
    description: str = "",
    roles: tuple[str, ...] | list[str] = ("operator", "admin"),
    upload: FileUpload | None = None,
    title: str = "",
    processing: Processing | None = None,
    config: tuple[str, ...] | list[str] = (),
    preload: tuple[str, ...] | list[str] = (),
) -> Callable[[TaskFunc], TaskFunc]:
    """Register a task function. `input` is the pydantic model its payload must fit; `roles`
    are the console roles that may start it by hand (default: operators and admins, which is
    right for internal tasks; a caseworker's task says `roles=("caseworker", ...)`). A
    municipality can override them per task with the `task_roles` setting. `upload`: the
    task takes a file from a person (see FileUpload). `title`: what people call it, in
    bokmål (the console's catalogue shows it, with the docstring's first line as help).
    `processing`: its purpose, personal data, legal basis, recipients and retention;
    `config`: the config files holding the rules it applies (both for `tasks describe`);
    `preload`: heavy modules it imports inside its functions (kept out of the command line's
    start-up), which a worker imports when it starts, so the first item does not wait for them."""

    def register(func: TaskFunc) -> TaskFunc:
        _REGISTRY[name] = Task(
            name=name,
            func=func,
            input_model=input,
            systems=tuple(systems),
            max_attempts=max_attempts,
            description=description or (func.__doc__ or "").strip().split("\n")[0],
            roles=tuple(roles),
            upload=upload,
            title=title,
            processing=processing,
            config=tuple(config),
            preload=tuple(preload),
        )
        return func

    return register


def discover(packages: list[str] | None = None) -> dict[str, Task]:
    """Import every module of the task packages (setting task_packages) and return the
    registered tasks by name."""
    if packages is None:
        from robots.settings import get_settings

        packages = get_settings().task_packages
    for package in packages:
        try:
            pkg = importlib.import_module(package)
        except ModuleNotFoundError as exc:
            if exc.name and (package == exc.name or package.startswith(exc.name + ".")):
                raise TaskPackageError(
                    f"Oppgavepakken {package!r} finnes ikke (innstillingen RPA_TASK_PACKAGES: "
                    f"{packages}). Kontroller navnet og at pakken er installert."
                ) from None
            raise
        for module in pkgutil.iter_modules(getattr(pkg, "__path__", []), prefix=f"{package}."):
            importlib.import_module(module.name)
    return dict(_REGISTRY)


def get_task(name: str, registry: dict[str, Task] | None = None) -> Task:
    registry = discover() if registry is None else registry
    try:
        return registry[name]
    except KeyError:
        raise UnknownTask(name, list(registry)) from None


class NotAllowed(PermissionError):
    """The person's role may not start this task (exit code 8 on the command line)."""


def may_start(role: str, task: Task, overrides: dict[str, list[str]] | None = None) -> bool:
    """True if `role` may start `task` by hand: admin always; else the task's roles, or the
    municipality's override for the task (setting task_roles)."""
    if role == "admin":
        return True
    roles = (overrides or {}).get(task.name, task.roles)
    return role in roles

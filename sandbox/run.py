"""Start the three sandbox systems on loopback ports: in-process for tests, or from
`runner.py sandbox` for the demo and for developers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sandbox.archive.app import create_app as create_archive
from sandbox.common import Faults, ServerThread
from sandbox.hr.app import create_app as create_hr
from sandbox.mail.server import MailStore, SmtpServer
from sandbox.mail.server import create_app as create_mail


@dataclass
class Ports:
    hr: int = 0
    archive: int = 0
    mail_web: int = 0
    smtp: int = 0


class Sandbox:
    """HR portal, Noark archive and mail server; `start()` returns when all three answer."""

    def __init__(
        self,
        data_dir: Path,
        *,
        ports: Ports | None = None,
        today: date | None = None,
        faults: Faults | None = None,
    ) -> None:
        ports = ports or Ports()
        self.mail = MailStore()
        self.hr_app = create_hr(data_dir, today=today, faults=faults)
        self.archive_app = create_archive(data_dir, today=today, faults=faults)
        self.hr = ServerThread(self.hr_app, ports.hr)
        self.archive = ServerThread(self.archive_app, ports.archive)
        self.mail_web = ServerThread(create_mail(self.mail), ports.mail_web)
        self.smtp = SmtpServer(self.mail, ports.smtp)

    def start(self) -> Sandbox:
        for server in (self.hr, self.archive, self.mail_web, self.smtp):
            server.start()
        return self

    def stop(self) -> None:
        for server in (self.smtp, self.mail_web, self.archive, self.hr):
            server.stop()

    def set_faults(self, faults: Faults) -> None:
        self.hr_app.state.faults.set(faults)
        self.archive_app.state.faults.set(faults)

    def describe(self) -> list[tuple[str, str, str]]:
        return [
            ("Personalportalen (HR)", self.hr.url, "robot / robot-passord, hr / hr-passord"),
            (
                "Sak og arkiv (Noark 5)",
                self.archive.url,
                "robot / robot-passord, arkivar / arkivar-passord; Noark 5-API: "
                + f"{self.archive.url}/api",
            ),
            ("E-post (web)", self.mail_web.url, "ingen innlogging"),
            ("E-post (SMTP)", f"smtp://{self.smtp.host}:{self.smtp.port}", "ingen innlogging"),
        ]

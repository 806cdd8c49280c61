"""A copy of each audit checkpoint for the municipality's log collector, as RFC 5424 syslog.

A mirror, not a store: the verification cannot read the collector back. Its worth is that the
collector's administrators are other people than the database's and the machine's, so a
checkpoint once sent (and a new base, which only a reset of the anchor writes) stays on record
there, to be compared by hand or by the collector's own rules. Sending never holds up or fails
an audit append: a collector that is down costs its copies (a warning in the log), not the work.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from loguru import logger

FACILITY_LOG_AUDIT = 13
SEVERITY_NOTICE = 5
SD_ID = "checkpoint@32473"  # 32473: the example enterprise number (RFC 5612)
APP_NAME = "kommune-rpa"
MSG_ID = "auditanchor"
TIMEOUT_SECONDS = 2.0


def parse_address(address: str) -> tuple[str, str, int]:
    """("udp"|"tcp", host, port) from udp://host:port or tcp://host:port."""
    scheme, sep, rest = address.partition("://")
    host, colon, port = rest.rpartition(":")
    if not sep or scheme not in ("udp", "tcp") or not colon or not host or not port.isdigit():
        raise ValueError(f"{address!r} is not udp://host:port or tcp://host:port")
    if not 0 < int(port) < 65536:
        raise ValueError(f"{address!r}: the port is not 1-65535")
    return scheme, host.strip("[]"), int(port)


def _sd_value(value: object) -> str:
    """A PARAM-VALUE: `"`, `\\` and `]` escaped (RFC 5424, 6.3.3)."""
    text = str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def rfc5424(entry: dict[str, object], *, hostname: str, pid: int, now: datetime) -> bytes:
    """One checkpoint as an RFC 5424 message: structured data carries id, hash, state and mac."""
    pri = FACILITY_LOG_AUDIT * 8 + SEVERITY_NOTICE
    ts = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    params = " ".join(f'{k}="{_sd_value(entry[k])}"' for k in ("id", "hash", "state", "mac"))
    msg = f"audit checkpoint {entry['id']} {entry['state']}"
    header = f"<{pri}>1 {ts} {hostname or '-'} {APP_NAME} {pid} {MSG_ID}"
    return f"{header} [{SD_ID} {params}] {msg}".encode()


@dataclass
class SyslogMirror:
    transport: str
    host: str
    port: int

    @classmethod
    def from_address(cls, address: str) -> SyslogMirror:
        return cls(*parse_address(address))

    def send(self, entries: list[dict[str, object]]) -> None:
        """One datagram per checkpoint (UDP), or one connection with octet-counted frames
        (TCP, RFC 6587)."""
        now, hostname, pid = datetime.now(UTC), socket.gethostname(), os.getpid()
        messages = [rfc5424(e, hostname=hostname, pid=pid, now=now) for e in entries]
        try:
            if self.transport == "udp":
                with socket.socket(_family(self.host), socket.SOCK_DGRAM) as sock:
                    for message in messages:
                        sock.sendto(message, (self.host, self.port))
            else:
                with socket.create_connection((self.host, self.port), TIMEOUT_SECONDS) as sock:
                    sock.sendall(b"".join(b"%d %s" % (len(m), m) for m in messages))
        except OSError as exc:
            logger.warning(
                f"Kontrollpunktene nådde ikke loggmottakeren {self.host}:{self.port} "
                f"({type(exc).__name__})"
            )


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET

"""The system exceptions a robot raises about its target system, without importing the
browser stack (so defining and discovering tasks stays light)."""

from __future__ import annotations


class SystemFault(Exception):
    """The target system failed (HTTP 5xx, an error page): a system exception, retried."""


class SessionExpired(SystemFault):
    """The target system logged the robot out in the middle of a flow."""


class SelectorNotFound(SystemFault):
    """No locator of a logical element matched: the page changed or did not load."""


class SystemStateFault(SystemFault):
    """A fault of the *system*, not of the item: every item of the system would fail the same
    way, so the worker changes the system's state (robots.systems) instead of spending the
    item's attempts. `system` names it."""

    def __init__(self, system: str, message: str) -> None:
        super().__init__(message)
        self.system = system


class CredentialsRejected(SystemStateFault):
    """The system refused the robot's login (its login block's `failure` element showed).
    Logging in again with the same credentials would only lock the account: the system's
    items wait until an operator says the credentials are renewed."""


class Unreachable(SystemStateFault):
    """The system cannot be reached: connection refused or reset, name not resolved, a
    timeout on the way there, or HTTP 502/503/504 from it or its proxy. After
    `breaker_threshold` such failures in a row the system's circuit breaker opens."""

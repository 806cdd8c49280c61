"""The system exceptions a robot raises about its target system, without importing the
browser stack (so defining and discovering tasks stays light)."""

from __future__ import annotations


class SystemFault(Exception):
    """The target system failed (HTTP 5xx, an error page): a system exception, retried."""


class SessionExpired(SystemFault):
    """The target system logged the robot out in the middle of a flow."""


class SelectorNotFound(SystemFault):
    """No locator of a logical element matched: the page changed or did not load."""

"""Is an address this machine? For the app's sign-in rule and the LLM client's dummy key."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` (and ``*.localhost``), 127.0.0.0/8 and ::1 (brackets allowed).
    A hostname or interface name is assumed reachable from outside."""
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """True when ``url`` points at this machine."""
    return is_loopback_host(urlsplit(url).hostname or "")

"""The client's address: the socket peer, or what a trusted reverse proxy says it is.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only from the
proxies named in ``[server] trusted_proxies``, and only as far as they wrote it: read from the
right (each proxy appends the address it saw), the client is the first address that is not a
trusted proxy. Everything left of it is the client's own say and ignored. The same rule as
uvicorn's ``--forwarded-allow-ips``, which ``sanshe serve`` is given the same list.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_ADDRESS = 64  # login_attempt.address


@lru_cache(maxsize=16)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.7:5100
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, nets: Iterable[Network]) -> bool:
    return address is not None and any(address in net for net in nets)


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: tuple[str, ...]) -> str:
    """``peer``: the socket's remote address; ``forwarded_for``: every X-Forwarded-For header."""
    peer = (peer or "unknown")[:MAX_ADDRESS]
    nets = trusted_networks(trusted)
    if not nets or not _trusted(_ip(peer), nets):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:  # not written by our proxy: stop at the last address it vouched for
            return client
        client = str(address)
        if not _trusted(address, nets):
            return client
    return client  # every hop is a trusted proxy: the first of them is the client

"""SSRF guard: refuse to connect to private, loopback, link-local and other non-public addresses.

Feed entries link wherever their authors like, so every URL we fetch is untrusted. The check
runs twice, both times inside aiohttp's connector, so it covers every redirect hop and every new
connection: in the resolver, on the DNS answer (which is exactly what the connector connects to,
and the only thing its DNS cache ever holds, so a name whose answer changes between a check and
the connect - DNS rebinding - cannot slip through), and in the socket factory, on the address of
each socket just before it connects. The second one is what catches literal IP hosts, for which
aiohttp skips the resolver (including forms such as `127.1` that only the system's parser reads).
Unix sockets are never used: the connector is TCP only.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable

from aiohttp import ThreadedResolver
from aiohttp.abc import ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddressError(Exception):
    """A URL's host resolves to an address the configuration does not allow us to contact."""


def forbidden_reason(address: IPAddress) -> str | None:
    """Why an address must not be contacted (None when it is a public unicast address)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            return forbidden_reason(embedded)
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_private:
        return "private"
    if address.is_reserved or not address.is_global:
        return "reserved"
    return None


def check_addresses(host: str, addresses: Iterable[str]) -> None:
    """Raise `BlockedAddressError` if any address of `host` is not public.

    One bad address is enough: a name that resolves to both a public and a private address is
    either misconfigured or an attack, and the connection could land on either.
    """
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reason = forbidden_reason(address)
        if reason:
            what = (
                f"{address} is a {reason} address"
                if _literal_ip(host) == str(address)
                else f"{host} resolves to {reason} address {address}"
            )
            raise BlockedAddressError(f"refused: {what} (set fetch.allow_private_addresses to allow it)")


def _literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class GuardedResolver(ThreadedResolver):
    """aiohttp's resolver (the system's getaddrinfo in a thread) with the address check on its answer.

    A refused answer raises before aiohttp sees it, so it never enters the connector's DNS cache.
    """

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await super().resolve(host, port, family)
        check_addresses(host, [answer["host"] for answer in answers])
        return answers


def guarded_socket(addr_info: tuple) -> socket.socket:
    """aiohttp's socket factory: refuse a socket about to connect to a non-public address."""
    family, type_, proto, _canonical, sockaddr = addr_info
    address = str(sockaddr[0])
    if _literal_ip(address) is None:  # a form like `127.1` that the connect would resolve itself
        raise BlockedAddressError(f"refused: {address} is not a plain IP address")
    check_addresses(address, [address])
    return socket.socket(family=family, type=type_, proto=proto)

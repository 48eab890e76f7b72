"""SSRF guard: refuse to connect to private, loopback, link-local and other non-public addresses.

Feed entries link wherever their authors like, so every URL we fetch is untrusted. The check
runs where the socket is opened (a network backend under httpx), on the addresses actually
connected to. That covers every redirect hop and every connection, and a DNS answer that changes
between a check and the connect (DNS rebinding) cannot slip through, because there is no second
lookup.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable

import anyio
import httpcore

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
            what = (f"{address} is a {reason} address" if _literal_ip(host) == str(address)
                    else f"{host} resolves to {reason} address {address}")
            raise BlockedAddressError(
                f"refused: {what} (set fetch.allow_private_addresses to allow it)"
            )


def _literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


async def resolve(host: str, port: int, timeout: float | None) -> list[str]:
    """The host's addresses, in the resolver's order, without duplicates."""
    literal = _literal_ip(host)
    if literal:
        return [literal]
    try:
        with anyio.fail_after(timeout):
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"DNS lookup of {host} timed out") from None
    except OSError as exc:
        raise httpcore.ConnectError(f"DNS lookup of {host} failed: {exc}") from None
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        if sockaddr[0] not in addresses:
            addresses.append(str(sockaddr[0]))
    if not addresses:
        raise httpcore.ConnectError(f"DNS lookup of {host} returned no address")
    return addresses


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address check between the DNS lookup and the connect."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = await resolve(host, port, timeout)
        if not self.allow_private:
            check_addresses(host, addresses)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise BlockedAddressError("refused: unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)

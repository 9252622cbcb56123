"""Which callback URLs the API may POST to, and the connection to the address it checked.

A callback URL is checked twice: at submit (so a bad one is a 400 the client sees) and
again at every delivery attempt (a name may point elsewhere by then). Every address the
name resolves to must be a public unicast address, unless the operator opened it with
CODERUN_WEBHOOK_ALLOWLIST. The request then goes to the checked address itself, with the
original name only in the Host header and the TLS server name, so a resolver that answers
a public address to the check and a private one to the connect (DNS rebinding) gains
nothing: there is no second lookup.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

import httpx

MAX_URL_LENGTH = 2048

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
# host, port -> the addresses it resolves to.
Resolver = Callable[[str, int], list[str]]

# Named, so a refusal says which rule applied; anything else that is not global is refused
# as "not a public address" (is_global covers the rest of the IANA special-purpose tables).
METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Names that point inside a network or cluster whatever they resolve to from here.
INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".svc", ".cluster.local", ".home.arpa")


class CallbackRefused(ValueError):
    """The callback URL may not be used; the message says why and what to send instead."""


@dataclass(frozen=True)
class Target:
    """A checked callback: where to connect (`address`) and what to say there."""

    scheme: str
    host: str  # as in the URL, lowercased: the Host header and the TLS server name
    port: int
    path: str  # path and query
    address: str  # the checked address the connection goes to

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def connect_url(self) -> str:
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{address}:{self.port}{self.path}"


@dataclass(frozen=True)
class Allowlist:
    names: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, entries: list[str]) -> Allowlist:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry.lower().rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal_reason(address: IPAddress) -> str | None:
    """Why the API will not connect to `address`, or None for a public unicast address."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address (send the IPv4 address itself)"
        if address.sixtofour is not None or address.teredo is not None:
            return "a 6to4 or Teredo address, which tunnels to an IPv4 address"
        if address in NAT64:
            embedded = IPv4Address(int(address) & 0xFFFFFFFF)
            inner = refusal_reason(embedded)
            return None if inner is None else f"a NAT64 address of {inner}"
        address = address.__class__(int(address))  # drop a zone (fe80::1%eth0)
    if address in METADATA:
        return "the cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, IPv4Address) and address in CGNAT:
        return "a carrier-grade NAT (shared) address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


def _split(url: str) -> tuple[str, str, int, str]:
    if len(url) > MAX_URL_LENGTH:
        raise CallbackRefused(f"callbackUrl is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise CallbackRefused("callbackUrl must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as bad:
        raise CallbackRefused(f"callbackUrl is not a valid URL ({bad})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise CallbackRefused("callbackUrl must be an http:// or https:// URL")
    if "@" in parts.netloc:
        raise CallbackRefused("callbackUrl must not contain a user name or password")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise CallbackRefused("callbackUrl has no host name")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def check_url(url: str, allowlist: Allowlist, resolver: Resolver = system_resolver) -> Target:
    """Resolve the URL's host once and check every address; raises CallbackRefused."""
    scheme, host, port, path = _split(url)
    named_allowed = host in allowlist.names
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is None and not named_allowed:
        if host == "localhost" or host.endswith(INTERNAL_SUFFIXES):
            raise CallbackRefused(
                f"callbackUrl host {host} is an internal name; use a public host name"
            )
        if "." not in host:
            raise CallbackRefused(
                f"callbackUrl host {host} is a single-label name (resolved through search "
                "domains to internal services); use a fully qualified public host name"
            )
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolver(host, port)
        except (OSError, UnicodeError) as error:
            raise CallbackRefused(f"callbackUrl host {host} does not resolve ({error})") from None
        if not addresses:
            raise CallbackRefused(f"callbackUrl host {host} does not resolve")
    for text in addresses:
        address = ipaddress.ip_address(text)
        if named_allowed or allowlist.allows_address(address):
            continue
        reason = refusal_reason(address)
        if reason is not None:
            where = f"is {reason}" if literal is not None else f"resolves to {address}, {reason}"
            raise CallbackRefused(
                f"callbackUrl host {host} {where}; callbacks go only to public addresses "
                "(an operator can open hosts with CODERUN_WEBHOOK_ALLOWLIST)"
            )
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])


@dataclass(frozen=True)
class Response:
    status_code: int
    body: bytes  # at most max_response_bytes of it


_TLS = ssl.create_default_context()


async def post_to_target(
    target: Target,
    headers: dict[str, str],
    body: bytes,
    *,
    timeout: float,
    max_response_bytes: int,
) -> Response:
    """POST `body` to the checked address of `target`. Redirects are not followed (a 3xx is
    an answer like any other), no proxy from the environment is used (it would resolve the
    name again), and at most `max_response_bytes` of the answer are read. The caller bounds
    the whole attempt (asyncio.wait_for), since httpx's timeouts are per read."""
    # A client per attempt and no keep-alive: a pooled connection to one address must never
    # carry a request meant for another name (its TLS session was checked for the first).
    async with httpx.AsyncClient(
        verify=_TLS,
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=0),
    ) as client:
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = client.build_request(
            "POST",
            target.connect_url,
            headers={**headers, "Host": target.host_header},
            content=body,
            extensions=extensions,
        )
        response = await client.send(request, stream=True)
        try:
            received = bytearray()
            if max_response_bytes > 0:
                async for chunk in response.aiter_raw():
                    received += chunk
                    if len(received) >= max_response_bytes:
                        break
            return Response(response.status_code, bytes(received[:max_response_bytes]))
        finally:
            await response.aclose()

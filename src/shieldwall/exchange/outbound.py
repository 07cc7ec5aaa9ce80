"""Outbound HTTP that may never reach the hub's own network (webhooks; any hub-initiated request).

A target is checked when it is registered and again on every request: its host is resolved, every
address must be public (no loopback, private, link-local, unique-local, multicast, unspecified, reserved,
carrier-grade NAT or cloud metadata address, nor an IPv4 one of those wrapped in IPv6), and the request
is sent to the very address that was checked, so a DNS answer that changes in between cannot redirect it.
Redirects are never followed. The operator may allowlist host names or networks (`webhook_allow`). A
request has a deadline for the whole answer, not only for each read (`run_async`), so a target that
trickles its answer cannot hold the thread that called it.

Failures are described in a few fixed words: nothing of the target's answer or of the local network
(addresses, exception text, response bodies) is ever shown to the organisation that registered it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx

T = TypeVar("T")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Not global, or special-purpose although Python calls them global (IETF assignments such as 192.0.0.192,
# a cloud metadata address; NAT64 prefixes are unwrapped instead).
_BLOCKED = tuple(ipaddress.ip_network(n) for n in ("192.0.0.0/24", "100.64.0.0/10", "0.0.0.0/8"))
_NAT64 = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48"))

# What a delivery result may say: fixed words only.
REFUSED = "refused: the target is not a public address (the hub operator may allowlist it)"
UNRESOLVED = "the host name did not resolve"
UNREACHABLE = "could not connect"
TIMED_OUT = "timed out"
FAILED = "delivery failed"
SAFE_MESSAGES = (REFUSED, UNRESOLVED, UNREACHABLE, TIMED_OUT, FAILED)


class OutboundRefused(ValueError):
    """The target may not be called; the message is safe to show to whoever named it."""


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public(ip.ipv4_mapped)  # the same IPv4 host
        inner = embedded_ipv4(ip)
        # Other wrappings (6to4, Teredo, NAT64) must be public on both layers.
        if (inner is not None and not is_public(inner)) or ip.is_site_local:
            return False
        if any(ip in net for net in _NAT64):
            return True
    special = (
        ip.is_private,
        ip.is_loopback,
        ip.is_link_local,
        ip.is_multicast,
        ip.is_unspecified,
        ip.is_reserved,
        any(ip in net for net in _BLOCKED if net.version == ip.version),
    )
    return ip.is_global and not any(special)


@dataclass(frozen=True)
class Allowlist:
    """Host names and networks the operator lets outbound requests reach although they are not public."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Allowlist:
        """'hooks.internal, 10.0.5.0/24, 127.0.0.1' -> Allowlist; a malformed entry is a ValueError naming it."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in (e.strip() for e in text.replace(";", ",").split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if "/" in entry or ":" in entry or not all(part for part in entry.split(".")):
                raise ValueError(f"webhook_allow: {entry!r} is neither a host name nor an address or network")
            hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def permits(self, ip: IPAddress) -> bool:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == net.version and ip in net for net in self.networks)


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # lower case, without brackets
    port: int


def parse_target(url: str) -> Target:
    """The URL's parts, or OutboundRefused saying what is wrong with it (checked without any lookup).

    httpx parses it, as httpx will send it: the host checked is the host called."""
    text = url.strip()
    if any(c.isspace() or ord(c) < 32 for c in text):
        raise OutboundRefused("the URL contains spaces or control characters")
    try:
        parsed = httpx.URL(text)
        host = parsed.raw_host.decode("ascii").lower().rstrip(".")
    except (httpx.InvalidURL, UnicodeError):
        raise OutboundRefused("not a valid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise OutboundRefused("only http:// and https:// URLs are accepted")
    if not host:
        raise OutboundRefused("the URL names no host")
    if parsed.userinfo:
        raise OutboundRefused("the URL may not carry a user name or password (the signature authenticates the hub)")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if not 0 < port < 65536:
        raise OutboundRefused(f"port {port} is out of range")
    return Target(text, parsed.scheme, host, port)


Resolver = Callable[[str, int], list[str]]


RESOLVE_SECONDS = 5.0


def system_resolver(host: str, port: int) -> list[str]:
    """The system's answers for host, within RESOLVE_SECONDS.

    getaddrinfo has no timeout of its own: where DNS does not answer it blocks for tens of seconds per
    try, and a delivery or registration would hang with it. It runs in a daemon thread that is left
    behind when it overstays (it ends with the resolver's own timeout)."""
    answer: list[list[str] | BaseException] = []

    def lookup() -> None:
        try:
            answer.append([str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)])
        except BaseException as error:  # handed to the caller's thread
            answer.append(error)

    thread = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    thread.start()
    thread.join(RESOLVE_SECONDS)
    if not answer:
        raise OSError(f"no DNS answer for {host} within {RESOLVE_SECONDS:g} s")
    if isinstance(answer[0], BaseException):
        raise answer[0]
    return answer[0]


def vetted_addresses(target: Target, allow: Allowlist, resolve: Resolver = system_resolver) -> list[IPAddress]:
    """Every address the target's host resolves to, or OutboundRefused if any one may not be called.

    All answers must pass: a name resolving to one public and one internal address is refused, so the
    choice of address cannot be steered."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolve(target.host, target.port)]
        except (OSError, UnicodeError, ValueError):
            raise OutboundRefused(UNRESOLVED) from None
        if not addresses:
            raise OutboundRefused(UNRESOLVED)
    if target.host in allow.hosts:
        return addresses
    if not all(is_public(ip) or allow.permits(ip) for ip in addresses):
        raise OutboundRefused(REFUSED)
    return addresses


def check_url(url: str, allow: Allowlist, resolve: Resolver = system_resolver) -> Target:
    """For registration: the URL is well formed and reaches only allowed addresses now."""
    target = parse_target(url)
    vetted_addresses(target, allow, resolve)
    return target


@dataclass(frozen=True)
class Outcome:
    """What happened to one request, in words safe to show (status is the target's HTTP status, if any)."""

    status: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def _pinned(target: Target, ip: IPAddress) -> tuple[httpx.URL, dict[str, str]]:
    """The URL with the checked address as host; Host header and TLS name stay the original host's."""
    url = httpx.URL(target.url)
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if target.port != default_port:
        host_header += f":{target.port}"
    return url.copy_with(host=str(ip)), {"Host": host_header}


def pinned_request(
    client: httpx.Client | httpx.AsyncClient,
    method: str,
    url: str,
    headers: Mapping[str, str],
    allow: Allowlist,
    resolve: Resolver = system_resolver,
    content: bytes | None = None,
) -> httpx.Request:
    """A request to the address just vetted for url (OutboundRefused if it may not be reached).

    The URL carries that address, while the Host header and the TLS name stay the original host's: a
    second DNS answer (rebinding) cannot send the request anywhere else.
    """
    target = parse_target(url)
    ip = vetted_addresses(target, allow, resolve)[0]
    pinned, host = _pinned(target, ip)
    request = client.build_request(method, pinned, content=content, headers={**headers, **host})
    if target.scheme == "https":
        request.extensions["sni_hostname"] = target.host
    return request


def post(
    url: str,
    content: bytes,
    headers: Mapping[str, str],
    allow: Allowlist,
    timeout: float = 10.0,
    resolve: Resolver = system_resolver,
) -> Outcome:
    """POST content to url if it may be reached, in at most `timeout` seconds in all; the response body is
    never read or reported."""
    return run_async(_post, url, content, headers, allow, timeout, resolve)


def run_async(function: Callable[..., Awaitable[T]], *args: Any) -> T:
    """function(*args) to completion from synchronous code, in an event loop of its own.

    Outbound requests are sent with httpx's async client because only a cancelled task ends a read that
    trickles in (httpx's timeouts bound each read, not the whole answer); `anyio.fail_after` then bounds it.
    Called where an event loop already runs, it runs in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(function, *args)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, function, *args).result()


async def _post(
    url: str, content: bytes, headers: Mapping[str, str], allow: Allowlist, timeout: float, resolve: Resolver
) -> Outcome:
    # A receiver dripping a header byte every few seconds held a delivery (and its thread) for hours.
    # trust_env=False: no proxy from the environment; redirects are never followed.
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        try:
            request = pinned_request(client, "POST", url, headers, allow, resolve, content)
        except OutboundRefused as refused:
            return Outcome(None, REFUSED if str(refused) != UNRESOLVED else UNRESOLVED)
        except httpx.HTTPError:  # headers httpx will not send
            return Outcome(None, FAILED)
        try:
            with anyio.fail_after(timeout):
                response = await client.send(request, stream=True)
                await response.aclose()
        except (httpx.TimeoutException, TimeoutError):
            return Outcome(None, TIMED_OUT)
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            return Outcome(None, UNREACHABLE)
        except httpx.HTTPError:
            return Outcome(None, FAILED)
    status = response.status_code
    if response.is_redirect:
        return Outcome(status, f"HTTP {status}: redirects are not followed")
    if not response.is_success:
        return Outcome(status, f"HTTP {status}")
    return Outcome(status)


def safe_message(text: str) -> str:
    """A stored delivery error as it may be shown (older rows may hold raw exception text)."""
    if not text or text in SAFE_MESSAGES:
        return text
    head, _, rest = text.partition(" ")
    if head == "HTTP" and rest[:3].isdigit() and rest[3:] in ("", ": redirects are not followed"):
        return text
    return FAILED

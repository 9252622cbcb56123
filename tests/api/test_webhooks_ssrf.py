"""The callback address rules and the connection to the checked address (DNS rebinding).

The resolvers here are stand-ins for DNS answers this machine cannot be made to give (a
name pointing at 10.x, a rebinding server answering differently each time): no real DNS
and no connection leaves the machine. Every connection made goes to the test's own
listener on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from coderun_api.webhooks.ssrf import (
    Allowlist,
    CallbackRefused,
    check_url,
    post_to_target,
    refusal_reason,
)

from tests.api.webhook_listener import running_listener

OPEN_LOOPBACK = Allowlist.parse(["127.0.0.1"])
NOTHING_OPEN = Allowlist.parse([])


class CountingResolver:
    """Answers a fixed sequence, one answer per lookup, and counts the lookups."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.lookups = 0

    def __call__(self, host: str, port: int) -> list[str]:
        answer = self.answers[min(self.lookups, len(self.answers) - 1)]
        self.lookups += 1
        return answer


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.5.4", "192.168.1.1",
        "169.254.169.254", "169.254.1.1", "100.64.0.1", "100.127.255.255", "0.0.0.0",
        "224.0.0.1", "255.255.255.255", "192.0.0.8", "198.18.0.1", "240.0.0.1",
        "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:8.8.8.8", "64:ff9b::a00:1", "2002:a00:1::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:db8::1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_a_name_resolving_to_a_private_address_is_refused_before_any_connection() -> None:
    resolver = CountingResolver(["10.20.30.40"])
    with pytest.raises(CallbackRefused, match=r"resolves to 10\.20\.30\.40, a private address"):
        check_url("https://hooks.example.com/x", NOTHING_OPEN, resolver)
    assert resolver.lookups == 1


def test_one_private_answer_among_public_ones_is_enough_to_refuse() -> None:
    resolver = CountingResolver(["93.184.215.14", "169.254.169.254"])
    with pytest.raises(CallbackRefused, match="metadata"):
        check_url("https://hooks.example.com/x", NOTHING_OPEN, resolver)


def test_allowlist_opens_a_network_or_a_name_and_nothing_else() -> None:
    allow = Allowlist.parse(["10.20.0.0/16", "hooks.corp"])
    assert check_url("http://10.20.1.2/", allow).address == "10.20.1.2"
    with pytest.raises(CallbackRefused):
        check_url("http://10.21.0.1/", allow)
    target = check_url("http://hooks.corp/x", allow, CountingResolver(["10.99.0.1"]))
    assert target.address == "10.99.0.1"
    with pytest.raises(CallbackRefused):
        check_url("http://other.corp/x", allow, CountingResolver(["10.99.0.1"]))


def test_the_connection_goes_to_the_checked_address_without_a_second_lookup() -> None:
    """DNS rebinding: the first answer is the allowed listener, every later one a private
    address. The request must reach the listener with the original name as Host, and the
    name must have been looked up exactly once."""
    resolver = CountingResolver(["127.0.0.1"], ["10.0.0.1"])
    with running_listener() as listener:
        target = check_url(f"http://rebind.example:{listener.port}/hook", OPEN_LOOPBACK, resolver)
        response = asyncio.run(
            post_to_target(
                target, {"webhook-id": "msg_test"}, b"{}", timeout=5, max_response_bytes=1
            )
        )
        (request,) = listener.wait_for(1)
    assert resolver.lookups == 1
    assert target.address == "127.0.0.1"
    assert response.status_code == 200
    assert response.body == b"o"  # capped at max_response_bytes
    assert request.headers["Host"] == f"rebind.example:{listener.port}"
    assert request.path == "/hook"


def test_a_rebound_answer_at_delivery_time_is_refused() -> None:
    """The check runs again at each delivery; if the name now points inside, no connect."""
    resolver = CountingResolver(["127.0.0.1"], ["10.0.0.1"])
    check_url("http://rebind.example/hook", OPEN_LOOPBACK, resolver)
    with pytest.raises(CallbackRefused, match=r"10\.0\.0\.1, a private address"):
        check_url("http://rebind.example/hook", OPEN_LOOPBACK, resolver)

"""Ports for servers a test or `make run` starts next: outside the kernel's ephemeral range,
where an outgoing connection made in between could take the same port."""

from __future__ import annotations

import socket

import pytest

from services.common import ports
from services.common.ports import first_ephemeral_port, free_port


def test_free_ports_are_below_the_ephemeral_range_and_never_handed_twice() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(10_000 <= port < first_ephemeral_port() for port in ports)


def test_a_free_port_can_be_listened_on() -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", port))
        server.listen()


def test_a_port_someone_listens_on_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        # a port free_port itself accepts, then forgotten: a neighbour of one (`other + 1`)
        # had sometimes been handed out earlier in the session, and the picks ran out
        monkeypatch.setattr(ports, "_handed", set())
        spare = free_port()
        ports._handed.clear()
        picks = iter([taken, taken, spare])
        monkeypatch.setattr(ports.random, "randrange", lambda *_: next(picks))
        assert free_port() == spare

"""The launcher's port test: TIME-WAIT leftovers of a stopped run do not count, a listener
does, and its process is named."""

from __future__ import annotations

import os
import socket

from services.common.ports import held_ports, port_free, port_holder


def test_a_port_with_only_time_wait_sockets_is_free_and_a_listener_is_named() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    assert not port_free("127.0.0.1", port)
    holder = port_holder(port)
    assert holder is not None
    assert holder.startswith(f"pid {os.getpid()} (")
    assert held_ports("127.0.0.1", {"broker": port}) == [
        f"broker port 127.0.0.1:{port} is in use by {holder}"
    ]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first, so its socket on `port` waits in TIME-WAIT
    client.close()
    server.close()
    assert port_holder(port) is None
    with socket.socket() as plain:  # what the old test did: TIME-WAIT made it fail
        try:
            plain.bind(("127.0.0.1", port))
            time_wait_blocks = False
        except OSError:
            time_wait_blocks = True
    assert time_wait_blocks, "the scenario must leave a TIME-WAIT socket on the port"
    assert port_free("127.0.0.1", port)
    assert held_ports("127.0.0.1", {"broker": port}) == []

"""Is a local port free for a server, and if not, who holds it."""

from __future__ import annotations

import os
import random
import socket
import threading
from pathlib import Path

_LISTEN = "0A"  # the TCP state code of a listening socket in /proc/net/tcp


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now.

    SO_REUSEADDR, as every server here sets it (tansu, uvicorn, aiohttp, aiosmtpd): sockets of
    a stopped run linger in TIME-WAIT for a minute and do not stop a new server from binding,
    so they must not fail this test either. A listening socket still does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000  # below it, well-known services of the machine (5432, 8000, 9092, ...)
_handed: set[int] = set()
_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on, for a server started next.

    Taken outside the kernel's range of ephemeral ports: a port the kernel picks (bind to 0)
    is one of those, and any outgoing connection made before the server binds (a Kafka
    client's, say) can be given the same one, so the server failed with "address already in
    use" (seen: a notifier in `make test`). Never hands out the same port twice per process.
    """
    low, _high = _ephemeral_range()
    if low - _LOWEST < 1_000:  # no room below the ephemeral range: let the kernel choose
        return _kernel_port(host)
    for _ in range(200):
        port = random.randrange(_LOWEST, low)
        with _lock:
            if port in _handed or not port_free(host, port):
                continue
            _handed.add(port)
            return port
    raise RuntimeError(f"no free port in {_LOWEST}-{low - 1} on {host}")


def first_ephemeral_port() -> int:
    """The lowest port the kernel may give an outgoing connection: servers stay below it."""
    return _ephemeral_range()[0]


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(part) for part in _EPHEMERAL.read_text().split())
    except (OSError, ValueError):
        return 49_152, 65_535  # IANA's dynamic range: what other systems use
    return low, high


def _kernel_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def port_holder(port: int, proc: Path = Path("/proc")) -> str | None:
    """'pid 123 (tansu broker …)' for the process listening on `port`, when this user may see
    it; None when nobody listens or it cannot be told (another user's process, no /proc)."""
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            fds = list((pid_dir / "fd").iterdir())
            if not any(os.readlink(fd) in wanted for fd in fds):
                continue
            argv = (pid_dir / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        command = " ".join(" ".join(argv).split())
        return f"pid {pid_dir.name} ({command[:120]})"
    return None


def held_ports(host: str, ports: dict[str, int]) -> list[str]:
    """One line per named port that is taken, saying by whom when that can be told."""
    lines = []
    for name, port in ports.items():
        if not port_free(host, port):
            holder = port_holder(port) or "a process this user cannot see"
            lines.append(f"{name} port {host}:{port} is in use by {holder}")
    return lines

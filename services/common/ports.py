"""Is a local port free for a server, and if not, who holds it."""

from __future__ import annotations

import os
import socket
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

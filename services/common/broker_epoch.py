"""Which broker a piece of local state belongs to, for the embedded broker that forgets.

The embedded broker keeps everything in memory, so every `make run` starts an empty one. Local
state derived from an earlier broker's topics (faust tables, committed positions, "already
published" marks) then describes data that no longer exists: faust refuses to start on it
(`ConsistencyError`), and enrollment would never send its events again.

The launcher that starts an embedded broker gives it a new epoch and hands it to every child
in `BEBAS_BROKER_EPOCH`. A holder of broker-derived state records the epoch it last saw beside
that state; when the current epoch differs, the state belongs to an earlier broker and is
rebuilt. Without the variable (a real cluster, or a service started by hand) nothing happens:
a real cluster keeps its topics, so its consumers' state stays valid.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

EPOCH_ENV = "BEBAS_BROKER_EPOCH"
MARKER = ".broker-epoch"


def new_epoch() -> str:
    return uuid.uuid4().hex


def current_epoch() -> str | None:
    return os.environ.get(EPOCH_ENV) or None


def seen_epoch(folder: Path) -> str | None:
    try:
        return (folder / MARKER).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def is_stale(folder: Path, epoch: str | None) -> bool:
    """True when `epoch` is set and `folder` was last used with another broker (or none)."""
    return epoch is not None and seen_epoch(folder) != epoch


def record_epoch(folder: Path, epoch: str) -> None:
    """Written only after the state was rebuilt or discarded, so a crash before it repeats the
    rebuild instead of skipping it."""
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / f"{MARKER}.tmp"
    scratch.write_text(epoch + "\n", encoding="utf-8")
    os.replace(scratch, folder / MARKER)


def discard_if_stale(folder: Path, epoch: str | None = None) -> bool:
    """Empty `folder` when it holds state of an earlier broker; returns whether it did.

    For folders holding only state a consumer rebuilds from the topics (faust's data folder).
    """
    epoch = epoch if epoch is not None else current_epoch()
    if epoch is None or not is_stale(folder, epoch):
        return False
    if folder.exists():
        entries = [entry for entry in folder.iterdir() if entry.name != MARKER]
        if entries:
            log.warning(
                "%s holds state of an earlier embedded broker (%d entries): discarding it; "
                "it is rebuilt from the topics",
                folder,
                len(entries),
            )
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    record_epoch(folder, epoch)
    return True

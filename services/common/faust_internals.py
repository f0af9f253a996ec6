"""Every place the platform reaches into faust-streaming's or aiokafka's internals, in one module.

Each helper here relies on a private attribute of a pinned version; importing this module on any
other version fails at once (rather than misbehaving later), and
`tests/foundation/test_faust_internals.py` fails when an attribute a helper needs disappears.
Why each one exists is said at the helper.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

PINNED = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}


def check_versions(pinned: dict[str, str] = PINNED) -> None:
    found = {name: version(name) for name in pinned}
    wrong = {name: v for name, v in found.items() if v != pinned[name]}
    if wrong:
        raise ImportError(
            "services.common.faust_internals relies on private attributes of "
            + ", ".join(f"{name} {pinned[name]}" for name in pinned)
            + "; installed: "
            + ", ".join(f"{name} {v}" for name, v in found.items())
            + ". Re-check every helper in that module against the new versions, then update "
            "PINNED."
        )


check_versions()


def partition_db(table: Any, partition: int) -> Any | None:
    """The rocksdict database holding one partition of a rocksdb-backed faust table, or None
    when this worker has not opened it (it does not own the partition).

    Why: faust's public reads (`table.get`, iteration) search *every* partition this worker has
    open when the key is not in its small key cache, and cannot iterate one partition in key
    order. The notifier keeps a wake-up index whose keys sort by instant and must read exactly
    one partition — the one it is working on — in that order (`services/notifier/store.py`).
    Writes still go through faust (changelog first), never through this handle.
    """
    store = table.data
    dbs: dict[int, Any] = store._dbs
    return dbs.get(partition)


def open_partition_db(table: Any, partition: int) -> Any:
    """Like `partition_db`, opening the database when this worker owns the partition but has
    not written to it yet (faust opens it lazily)."""
    return table.data._db_for_partition(partition)


#: rocksdb key faust stores each partition's changelog offset under (not a table key)
FAUST_OFFSET_KEY = b"__faust\0offset__"

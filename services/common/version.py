"""The platform's version, as dead letters and metrics report it."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _version() -> str:
    try:
        return version("bebas-cemas")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


SERVICE_VERSION = _version()

"""Serve bench.bare_app exactly as `python -m services.enrollment serve --log-level warning`
serves the real API: uvicorn.run, one process, no access log."""

from __future__ import annotations

import argparse

import uvicorn

from bench.bare_app import create_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()

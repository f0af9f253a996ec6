"""`make bench`: every figure side by side in one run, written to bench/results/.

python -m bench            # the full run (several minutes)
python -m bench --quick    # small sizes, one repetition: checks the harness, not the targets
python -m bench --only reporting
"""

from __future__ import annotations

import argparse
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import e2e as e2e_bench
from bench import enrollment as enrollment_bench
from bench import failover as failover_bench
from bench import machine, report
from bench import notifier as notifier_bench
from bench import reporting as reporting_bench
from bench import restart as restart_bench
from bench.context import BenchContext
from bench.processes import stop_cleanly_on_sigterm
from services.common.broker import EmbeddedBroker
from services.common.kafka_settings import KafkaSettings
from services.common.ports import free_port

Section = Callable[[BenchContext], dict[str, float]]
SECTIONS: dict[str, Section] = {
    "enrollment": enrollment_bench.measure,
    "reporting": reporting_bench.measure,
    "notifier": notifier_bench.measure,
    "notifier_memory": notifier_bench.measure_memory,
    "notifier_failover": failover_bench.measure,
    "e2e": e2e_bench.measure,
    "restart": restart_bench.measure,
}
RESULTS = Path(__file__).parent / "results"


def run(names: list[str], quick: bool) -> dict[str, object]:
    figures: dict[str, float] = {}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        broker = EmbeddedBroker(port=free_port(), log_file=Path(scratch) / "broker.log")
        kafka = KafkaSettings(bootstrap_servers=broker.start())
        try:
            ctx = BenchContext(kafka=kafka, scratch=Path(scratch), quick=quick)
            for name in names:
                print(f"bench: {name}…", flush=True)
                try:
                    figures.update(SECTIONS[name](ctx))
                except Exception as exc:  # one broken section must not hide the others
                    traceback.print_exc()
                    errors[name] = f"{type(exc).__name__}: {exc}"[:500]
        finally:
            broker.stop()
    return {
        "machine": machine.describe(),
        "quick": quick,
        "figures": {k: round(v, 2) for k, v in figures.items()},
        "verdicts": report.verdicts(figures),
        "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", action="append", choices=sorted(SECTIONS))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    stop_cleanly_on_sigterm()
    document = run(args.only or list(SECTIONS), args.quick)
    json_path, md_path = report.write(args.results, document)
    print(md_path.read_text(encoding="utf-8"))
    print(f"written: {json_path} and {md_path}")
    return 1 if document["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

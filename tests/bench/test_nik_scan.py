"""The raw-NIK scanner must find a NIK where one was planted, and nothing where none was."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaProducer

from bench.nik_scan import scan_files, scan_topics
from schemas.nik import mask_nik
from services.common.kafka_settings import KafkaSettings


def _random_nik() -> str:
    return "3372" + "".join(random.choices("0123456789", k=12))


def test_scan_finds_a_planted_nik_in_a_topic_and_a_file(
    kafka_settings: KafkaSettings, topic_factory: Callable[..., str], tmp_path: Path
) -> None:
    leaked, safe, in_header = _random_nik(), _random_nik(), _random_nik()
    topic = topic_factory("nikscan", partitions=2)
    producer = KafkaProducer(**kafka_settings.kafka_python_config())
    producer.send(topic, key=b"p-1", value=f'{{"nik_masked": "{mask_nik(safe)}"}}'.encode())
    producer.send(topic, key=b"p-2", value=f'{{"nik": "{leaked}"}}'.encode())
    producer.send(
        topic, key=b"p-3", value=b"{}", headers=[("__bebas.errors.key", in_header.encode())]
    )
    producer.flush()
    producer.close()
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "service.log").write_text(f"registered {leaked}\n", encoding="utf-8")
    (tmp_path / "clean.log").write_text(f"registered {mask_nik(safe)}\n", encoding="utf-8")

    scanned, topic_leaks = scan_topics(kafka_settings, {leaked, safe, in_header})
    file_leaks = scan_files(tmp_path, {leaked, safe})

    assert scanned >= 3
    assert sorted((leak.where.split("[")[0], leak.nik) for leak in topic_leaks) == sorted(
        [(topic, leaked), (topic, in_header)]
    )
    assert [(Path(leak.where).name, leak.nik) for leak in file_leaks] == [("service.log", leaked)]

"""Every library internal `services.common.internals` relies on is still where it expects it:
these fail when an upgrade moves one (and importing the module fails on another version)."""

from __future__ import annotations

import inspect
import re

import faust
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer
from aiokafka.consumer import fetcher
from faust.stores.rocksdb import Store as RocksStore
from faust.streams import Stream
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Producer as FaustProducer
from faust.transport.producer import Producer as BaseProducer
from faust.transport.producer import ProducerBuffer

from services.common import internals


def test_another_version_is_refused_at_import() -> None:
    internals.check_versions()  # the pinned ones: fine
    with pytest.raises(ImportError, match=re.escape("faust-streaming 9.9.9")):
        internals.check_versions({**internals.PINNED, "faust-streaming": "9.9.9"})


def test_the_app_factories_patch_when_created_wraps_exist() -> None:
    for factory in ("_new_consumer", "_new_producer"):
        assert callable(getattr(faust.App, factory))


def test_the_consumer_internals_limit_fetch_wait_uses_exist() -> None:
    assert callable(AIOKafkaConsumerThread._create_worker_consumer)
    assert "self._fetch_max_wait_ms = " in inspect.getsource(AIOKafkaConsumer.__init__)
    # faust passes its own fixed wait to the aiokafka consumer it builds: the reason for it
    assert "fetch_max_wait_ms=1500" in inspect.getsource(AIOKafkaConsumerThread)


def test_the_fetcher_internals_stop_fetches_at_offset_gaps_uses_exist() -> None:
    params = list(inspect.signature(fetcher.PartitionRecords.__init__).parameters)
    assert params[:5] == ["self", "tp", "records", "aborted_transactions", "fetch_offset"]
    # built by name from the module on every fetch response: replacing the name is enough
    assert "partition_records = PartitionRecords(" in inspect.getsource(
        fetcher.Fetcher._proc_fetch_request
    )
    # the records are read only through has_next()/next_batch()
    unpack = inspect.getsource(fetcher.PartitionRecords._unpack_records)
    assert "records.has_next()" in unpack
    assert "records.next_batch()" in unpack


def test_the_producer_internals_make_flush_durable_uses_exist() -> None:
    assert callable(FaustProducer.send_soon)
    assert inspect.iscoroutinefunction(FaustProducer.flush)
    assert "self.buffer = ProducerBuffer(" in inspect.getsource(BaseProducer)
    assert "_producer" in FaustProducer.__annotations__  # the aiokafka producer, flushed too
    assert "self.state" in inspect.getsource(ProducerBuffer)


def test_the_stream_and_store_internals_exist() -> None:
    assert callable(Stream._set_current_event)
    assert "self._dbs" in inspect.getsource(RocksStore)
    assert callable(RocksStore._db_for_partition)
    assert RocksStore.offset_key == internals.FAUST_OFFSET_KEY


def test_the_uvicorn_internals_exit_zero_server_overrides_exist() -> None:
    assert callable(uvicorn.Server.capture_signals)
    assert callable(uvicorn.Server.handle_exit)
    assert issubclass(internals.ExitZeroServer, uvicorn.Server)


def test_the_recovery_internals_seek_streams_before_resuming_them_uses_exist() -> None:
    assert callable(Recovery._is_changelog_tp)
    for name in internals.RECOVERY_ENDS:
        source = inspect.getsource(inspect.unwrap(getattr(Recovery, name)))
        assert "consumer = self.app.consumer" in source or "consumer = app.consumer" in source
        assert "self.app.consumer_generation_id != generation_id" in source
        # the reason for the patch: faust resumes the stream partitions, then seeks them, then
        # resumes flow (clearing the agents' queues); when that order changes, re-check it
        resume = source.index("consumer.resume_partitions(")
        seek = source.index("consumer.perform_seek()")
        flow = source.index("flow_control.resume()")
        assert resume < seek < flow


def test_the_fetch_internals_fetch_only_active_partitions_uses_exist() -> None:
    fetch = inspect.unwrap(AIOKafkaConsumerThread._fetch_records)
    params = list(inspect.signature(fetch).parameters)
    assert params == ["self", "consumer", "active_partitions", "timeout", "max_records"]
    # the reasons: faust hands over its live set of active partitions, and aiokafka reads an
    # empty set as every partition
    assert "fetcher.fetched_records(\n                    active_partitions," in (
        inspect.getsource(fetch)
    )
    assert "active_partitions = self._get_active_partitions()" in inspect.getsource(
        Consumer._wait_next_records
    )
    assert "if partitions and tp not in partitions:" in inspect.getsource(
        fetcher.Fetcher.fetched_records
    )

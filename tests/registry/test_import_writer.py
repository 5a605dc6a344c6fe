"""A commit applies its batches in order, each once; on PostgreSQL in a writer thread while the next batch is
read. A batch that fails stops the commit with its error: the batches before it stay applied, none after it is."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from registry.imports import ImportColumn, ImportSpec, import_commit


def toy_spec(applied: list, *, fail_at: int | None = None) -> ImportSpec:
    def apply(rows, *, actor):
        if fail_at is not None and len(applied) == fail_at:
            raise RuntimeError("the database refused the batch")
        applied.append(([row["key"] for row in rows], threading.current_thread().name))
        return len(rows), 0

    return ImportSpec(
        name="tests.writer",
        title="writer",
        key_column="key",
        apply_batch=apply,
        batch_size=3,
        columns=[ImportColumn("key", "key", required=True)],
    )


def toy_file(tmp_path, count: int):
    path = tmp_path / "keys.csv"
    path.write_text("key\n" + "".join(f"k{n}\n" for n in range(count)), encoding="utf-8")
    return path


def test_batches_are_applied_in_order_and_progress_counts_rows_applied(tmp_path):
    applied: list = []
    seen: list[int] = []
    result = import_commit(toy_spec(applied), toy_file(tmp_path, 10), actor=None, progress=seen.append)
    assert result.created == 10
    assert [keys for keys, _thread in applied] == [
        ["k0", "k1", "k2"],
        ["k3", "k4", "k5"],
        ["k6", "k7", "k8"],
        ["k9"],
    ]
    assert seen == sorted(seen) and seen[-1] == 10


def test_a_failed_batch_stops_the_commit_and_its_error_reaches_the_caller(tmp_path):
    applied: list = []
    with pytest.raises(RuntimeError, match="refused"):
        import_commit(toy_spec(applied, fail_at=1), toy_file(tmp_path, 30), actor=None)
    assert [keys for keys, _thread in applied] == [["k0", "k1", "k2"]]


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_batches_are_written_by_a_thread_of_their_own(tmp_path):
    from django.db import connection

    applied: list = []
    import_commit(toy_spec(applied), toy_file(tmp_path, 4), actor=None)
    threads = {thread for _keys, thread in applied}
    expected = "import-writer" if connection.vendor == "postgresql" else threading.current_thread().name
    assert threads == {expected}


def prepared_spec(prepared: list, applied: list) -> ImportSpec:
    def prepare(rows, *, actor, expect_new):
        prepared.append((expect_new, threading.current_thread().name))
        return [row["key"].upper() for row in rows]

    def apply(keys, *, actor):
        applied.append((keys, threading.current_thread().name))
        return (0, 0) if keys[0] == "K3" else (len(keys), 0)  # the second batch's rows are all known

    return dataclasses.replace(toy_spec([]), prepare_batch=prepare, apply_batch=apply)


@pytest.mark.django_db
def test_a_spec_may_prepare_each_batch_and_apply_what_it_prepared(tmp_path):
    prepared: list = []
    applied: list = []
    result = import_commit(prepared_spec(prepared, applied), toy_file(tmp_path, 10), actor=None)
    assert [keys for keys, _thread in applied] == [
        ["K0", "K1", "K2"],
        ["K3", "K4", "K5"],
        ["K6", "K7", "K8"],
        ["K9"],
    ]
    assert result.created == 7
    # Applied as they come here (in a transaction), so each batch is prepared knowing how the one before went:
    # after a batch of known rows the next is not expected to be new.
    assert [expect for expect, _thread in prepared] == [True, True, False, True]


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_batches_are_prepared_by_the_reading_thread_and_written_by_the_writer(tmp_path):
    from django.db import connection

    prepared: list = []
    applied: list = []
    result = import_commit(prepared_spec(prepared, applied), toy_file(tmp_path, 10), actor=None)
    assert result.created == 7 and len(prepared) == len(applied) == 4
    reader = threading.current_thread().name
    assert {thread for _expect, thread in prepared} == {reader}
    writer = "import-writer" if connection.vendor == "postgresql" else reader
    assert {thread for _keys, thread in applied} == {writer}

"""A commit applies its batches in order, each once; on PostgreSQL in a writer thread while the next batch is
read. A batch that fails stops the commit with its error: the batches before it stay applied, none after it is."""

from __future__ import annotations

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

"""The card I/O benchmark still runs (one round, in process: unit tests leave the PC/SC readers alone)."""

from tests.bench import bench_card_io


def test_bench_card_io_runs(capsys):
    figures = bench_card_io.main(1, pcsc_too=False)
    assert set(figures["in_process"]) == {"personalise", "read_all", "add_immunisation"}
    assert "ms/op" in capsys.readouterr().out

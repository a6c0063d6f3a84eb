"""pgchallenge benchmarks: pgbench scripts (``bench/*.sql``), seed, runner (``bench/run.py``)."""

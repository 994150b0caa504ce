#!/usr/bin/env python3
"""Checks a `fusellm dump export --format parquet` file against the dump it came from, value by value, reading the
file with pyarrow (and pandas; DuckDB and HF datasets too when installed) and the dump with scripts/lib/fusellm_dump.py.

    python3 scripts/check-parquet-export.py DUMP_DIR EXPORT.parquet
"""
import json
import os
import sys

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from fusellm_dump import read_dump  # noqa: E402


def main(dump_dir, path):
    f = pq.ParquetFile(path)
    meta = f.metadata.metadata
    manifest = json.loads(meta[b"fusellm.dump.manifest"])
    assert manifest == json.load(open(os.path.join(dump_dir, "manifest.json"))), "manifest in the metadata differs"
    table = f.read()
    rows = table.to_pylist()
    texts = list(read_dump(dump_dir))
    assert len(rows) == len(texts) == manifest["block_count"], (len(rows), len(texts))
    entries = 0
    for row, t in zip(rows, texts):
        assert row["text_id"] == t["text_id"]
        assert row["input_ids"] == t["tokens"].tolist(), f"text {t['text_id']}: input_ids"
        assert np.array(row["per_step_indices"], dtype=np.int64).reshape(t["ids"].shape).tolist() == t["ids"].tolist(), \
            f"text {t['text_id']}: per_step_indices"
        values = np.array(row["per_step_logits"], dtype=np.float32).reshape(t["logprobs"].shape)
        assert np.array_equal(values, t["logprobs"]), f"text {t['text_id']}: per_step_logits"
        ce = t["ce_sum"] / t["ce_count"] if t["ce_count"] else 0.0
        assert abs(row["metric_ce"] - ce) <= 1e-12 * max(1, abs(ce)), f"text {t['text_id']}: metric_ce"
        if "per_step_metric_ce" in row:
            expected = t["token_ce"][:max(0, len(t["tokens"]) - 1)]
            assert np.array_equal(np.array(row["per_step_metric_ce"], dtype=np.float32), expected), f"text {t['text_id']}: per_step_metric_ce"
        entries += values.size
    frame = f.read().to_pandas()
    assert len(frame) == len(rows) and list(frame.columns) == table.column_names
    readers = ["pyarrow", "pandas"]
    try:
        import duckdb
        n = duckdb.sql(f"select count(*), sum(len(input_ids)) from read_parquet('{path}')").fetchall()[0]
        assert n == (len(rows), sum(len(r["input_ids"]) for r in rows)), n
        readers.append("duckdb")
    except ImportError:
        pass
    try:
        import datasets
        ds = datasets.Dataset.from_parquet(path)
        assert ds.num_rows == len(rows) and ds[0]["per_step_indices"] == rows[0]["per_step_indices"]
        readers.append("datasets")
    except ImportError:
        pass
    print(f"{path}: {len(rows)} texts, {entries} entries equal to {dump_dir} "
          f"({manifest['value_encoding']}, k = {manifest['k']}); read by {', '.join(readers)}; "
          f"{f.metadata.num_row_groups} row groups")


if __name__ == "__main__":
    main(*sys.argv[1:3])

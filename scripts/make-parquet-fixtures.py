#!/usr/bin/env python3
"""Parquet fixtures for the list-column reader, the dump exporter's writer and the dump importer, written by
pyarrow (CI reads them without pyarrow). Writes Tests/Fixtures/parquet-lists/:

  reference-*.parquet   the columns FuseLLM's forward_for_logits.py leaves (HF datasets' nullable types):
                        text, input_ids list<int32>, attention_mask list<int8>, per_step_logits list<list<float16 or
                        float32>>, per_step_indices list<list<int64>>, metric_ce; with a null list, an empty list and
                        an empty inner list; dictionary and PLAIN pages, data pages v1 and v2, zstd / snappy / none
  reference.json        their values (float16 values as pyarrow reads them back)
  export-pyarrow.parquet  the export's schema (non-nullable lists) and export-values.json its values: what
                        `fusellm dump export` must write the same way

    python3 scripts/make-parquet-fixtures.py
"""
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "parquet-lists")


def reference_rows(rng):
    rows = []
    for r in range(7):
        n = [5, 3, 0, 4, 2, 6, 1][r]
        k = 3
        ids = [int(x) for x in rng.integers(0, 300, size=n)]
        # Float32 values, so the f32 files hold exactly what the JSON says.
        logits = [[float(np.float32(v)) for v in np.sort(rng.normal(0, 3, size=k))[::-1]] for _ in range(n)]
        indices = [[int(v) for v in rng.choice(300, size=k, replace=False)] for _ in range(n)]
        rows.append(dict(text=f"text {r} " + "é" * r, input_ids=ids, attention_mask=[1] * n,
                         per_step_logits=logits, per_step_indices=indices, metric_ce=float(np.float32(rng.uniform(1, 4)))))
    rows[3]["per_step_logits"][1] = []          # an empty inner list
    rows[3]["per_step_indices"][1] = []
    rows[5]["per_step_logits"] = None           # a null list
    rows[5]["per_step_indices"] = None
    return rows


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)
    rows = reference_rows(rng)
    variants = {}
    for half in (True, False):
        value = pa.float16() if half else pa.float32()
        schema = pa.schema([("text", pa.string()), ("input_ids", pa.list_(pa.int32())),
                            ("attention_mask", pa.list_(pa.int8())), ("per_step_logits", pa.list_(pa.list_(value))),
                            ("per_step_indices", pa.list_(pa.list_(pa.int64()))), ("metric_ce", value)])
        cols = {name: [row[name] for row in rows] for name in schema.names}
        if half:
            cols["per_step_logits"] = [None if x is None else [np.array(p, dtype=np.float16) for p in x]
                                       for x in cols["per_step_logits"]]
            cols["metric_ce"] = np.array(cols["metric_ce"], dtype=np.float16)
        table = pa.table(cols, schema=schema)
        for name, options in {
            "v1-zstd-dict": dict(compression="zstd", data_page_version="1.0"),
            "v2-snappy-dict": dict(compression="snappy", data_page_version="2.0"),
            "v1-none-plain": dict(compression="none", use_dictionary=False, data_page_version="1.0"),
            "v2-zstd-plain-small-pages": dict(compression="zstd", use_dictionary=False, data_page_version="2.0",
                                              data_page_size=64, row_group_size=3),
        }.items():
            file = f"reference-{'f16' if half else 'f32'}-{name}.parquet"
            pq.write_table(table, os.path.join(OUT, file), **options)
            variants[file] = table.to_pylist()
    json.dump(variants, open(os.path.join(OUT, "reference.json"), "w"), indent=0)

    # The export's schema, non-nullable as fusellm writes it.
    texts = []
    for t in range(4):
        n = [3, 0, 2, 5][t]
        k = 2
        texts.append(dict(text_id=t, text=f"το κείμενο {t}", input_ids=[int(x) for x in rng.integers(0, 1 << 17, size=n)],
                          per_step_logits=[[float(np.float32(v)) for v in -np.sort(rng.exponential(2, size=k))] for _ in range(n)],
                          per_step_indices=[[int(v) for v in rng.choice(1 << 17, size=k, replace=False)] for _ in range(n)],
                          metric_ce=float(rng.uniform(1, 4))))
    required = lambda t: pa.list_(pa.field("element", t, nullable=False))
    schema = pa.schema([pa.field("text_id", pa.int64(), False), pa.field("text", pa.string(), False),
                        pa.field("input_ids", required(pa.int64()), False),
                        pa.field("per_step_logits", required(required(pa.float32())), False),
                        pa.field("per_step_indices", required(required(pa.int64())), False),
                        pa.field("metric_ce", pa.float64(), False)])
    table = pa.table({name: [t[name] for t in texts] for name in schema.names}, schema=schema)
    pq.write_table(table, os.path.join(OUT, "export-pyarrow.parquet"), compression="zstd", use_dictionary=False,
                   data_page_version="1.0")
    json.dump(texts, open(os.path.join(OUT, "export-values.json"), "w"), indent=0)
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()

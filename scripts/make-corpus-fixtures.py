#!/usr/bin/env python3
"""Corpus-reader fixtures for FuseCorpus: parquet files written by pyarrow (as HF datasets writes
MiniPile), JSON lines and zstd JSON lines, with the exact texts each must give.

Writes, under Tests/Fixtures/corpus/:
  parquet/*.parquet   the same kinds of texts (CJK, emoji with ZWJ and flags, combining marks,
                      right-to-left, control characters, CRLF, quotes and backslashes, an empty string,
                      long strings crossing many pages) written with every combination the reader
                      supports: compression none / snappy / zstd (and gzip), data page v1 and v2,
                      PLAIN and dictionary encoding (including pyarrow's fallback from dictionary to
                      PLAIN inside one column chunk), nullable columns with nulls, a required column,
                      several row groups and small pages (so many pages per chunk), extra columns
                      before and after the text column, another column name, and an empty table.
  bad/*.parquet       files the reader must refuse with a clear error: DELTA_BYTE_ARRAY encoding,
                      BROTLI and LZ4 codecs, a nested (list) text column, a struct column, a text
                      column of type INT64.
  jsonl/*             docs.jsonl (escapes, surrogate pairs, nested fields, a blank line, CRLF, a null
                      text, no final newline), docs.jsonl.zst (the same, one zstd frame),
                      docs-2frames.jsonl.zst (two concatenated frames, split inside a line),
                      invalid.jsonl (a broken line, a line without the field, a non-string field),
                      content.jsonl (text under another key).
  expected.json       {"catalog": [texts], "files": {relative path: {"rows": [[index, catalog id], ...],
                      "nulls": n, ...}}}; `index` is the parquet row (0-based) or the JSON line (1-based).

Fixed seeds: re-running reproduces every file byte for byte (for a given pyarrow version).
Needs: pip install pyarrow
"""
import json
import pathlib
import random

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "corpus"

WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at which but "
         "have an they you were her she there been one all we their has would when if so no out up into "
         "data parquet column page reader stream token model fusion 数据 文本 日本語 한국어 Ελληνικά "
         "русский café naïve façade 🙂 👩‍💻 🇫🇷 e\u0301 a\u0308 ñ ü ø").split(" ")


def long_text(rng, n_words):
    out = []
    for i in range(n_words):
        out.append(rng.choice(WORDS))
        if i % 17 == 16:
            out.append(".\n")
    return " ".join(out)


def build_catalog():
    rng = random.Random(1234)
    texts = [
        "Hello, world.",
        "",
        "数据融合：知识融合的大型语言模型。",
        "日本語のテキスト、カタカナとひらがな。",
        "emoji 🙂🚀 family 👨‍👩‍👧‍👦 flag 🇯🇵 skin 👍🏽",
        "combining: e\u0301 a\u0308 o\u0302\u0323 Z\u0335\u0321a\u0336",
        "right-to-left: مرحبا بالعالم — שלום עולם",
        "quotes \" and backslash \\ and tab\tand newline\nand CRLF\r\nend",
        "control \u0001\u001f and NUL \u0000 inside",
        "  leading and trailing spaces  ",
        "a",
        "x" * 300,
        long_text(rng, 500),     # ~3 KB
        long_text(rng, 2000),    # ~14 KB: many times the 1 KB page size
        "the end",
    ]
    # Short texts that repeat, so dictionary encoding has something to do.
    texts += [f"repeated line {k % 3}" for k in range(3)]
    return texts


def main():
    ROOT.mkdir(parents=True, exist_ok=True)
    for sub in ("parquet", "bad", "jsonl"):
        (ROOT / sub).mkdir(exist_ok=True)
        for old in (ROOT / sub).iterdir():
            old.unlink()
    catalog = build_catalog()
    n = len(catalog)
    files = {}

    # Row order for the main files: every text, the repeated ones several times.
    order = list(range(n)) + [n - 3, n - 2, n - 1, n - 3, n - 3, 0, 1]
    # Nullable files: None every few rows (row positions fixed).
    nullable_order = []
    for k, c in enumerate(order):
        if k % 4 == 1:
            nullable_order.append(None)
        nullable_order.append(c)
    nullable_order.append(None)  # a null last row

    def write(name, ids, *, compression="none", dictionary=False, version="1.0", page=1024,
              row_group=7, nullable=True, column="text", extra=True, dict_limit=None, **kw):
        texts = [None if i is None else catalog[i] for i in ids]
        fields = []
        arrays = []
        if extra:
            fields.append(pa.field("id", pa.int64(), nullable=False))
            arrays.append(pa.array(range(len(ids)), pa.int64()))
        fields.append(pa.field(column, pa.string(), nullable=nullable))
        arrays.append(pa.array(texts, pa.string()))
        if extra:
            fields.append(pa.field("domain", pa.string()))
            arrays.append(pa.array([f"d{k % 3}" for k in range(len(ids))], pa.string()))
        table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
        options = dict(compression=compression, use_dictionary=dictionary, data_page_version=version,
                       data_page_size=page, row_group_size=row_group, write_statistics=True,
                       write_batch_size=2, max_rows_per_page=2)
        if dict_limit is not None:
            options["dictionary_pagesize_limit"] = dict_limit
        options.update(kw)
        pq.write_table(table, ROOT / "parquet" / name if not name.startswith("bad/") else ROOT / name, **options)
        rows = [[k, i] for k, i in enumerate(ids) if i is not None]
        return {"rows": rows, "nulls": sum(1 for i in ids if i is None), "row_count": len(ids)}

    for compression in ("none", "snappy", "zstd"):
        for version in ("1.0", "2.0"):
            v = "v1" if version == "1.0" else "v2"
            files[f"parquet/plain-{v}-{compression}.parquet"] = write(
                f"plain-{v}-{compression}.parquet", order, compression=compression, version=version)
            files[f"parquet/dict-{v}-{compression}-nulls.parquet"] = write(
                f"dict-{v}-{compression}-nulls.parquet", nullable_order, compression=compression,
                dictionary=True, version=version)
    files["parquet/plain-v1-gzip.parquet"] = write("plain-v1-gzip.parquet", order, compression="gzip")
    files["parquet/dict-v2-gzip-nulls.parquet"] = write(
        "dict-v2-gzip-nulls.parquet", nullable_order, compression="gzip", dictionary=True, version="2.0")
    files["parquet/plain-v1-snappy-nulls.parquet"] = write(
        "plain-v1-snappy-nulls.parquet", nullable_order, compression="snappy")
    files["parquet/plain-v2-zstd-nulls.parquet"] = write(
        "plain-v2-zstd-nulls.parquet", nullable_order, compression="zstd", version="2.0")
    files["parquet/required-v1-snappy.parquet"] = write(
        "required-v1-snappy.parquet", order, compression="snappy", nullable=False, dictionary=True)
    files["parquet/required-v2-none.parquet"] = write(
        "required-v2-none.parquet", order, version="2.0", nullable=False)
    # Dictionary page limit reached inside a chunk: pyarrow falls back to PLAIN pages.
    files["parquet/dict-fallback-snappy.parquet"] = write(
        "dict-fallback-snappy.parquet", order * 2, compression="snappy", dictionary=True, dict_limit=200,
        row_group=1000)
    # One row group, default page size (as HF datasets writes small files), text only.
    files["parquet/hf-style.parquet"] = write(
        "hf-style.parquet", order, compression="snappy", page=1 << 20, row_group=1000, extra=False)
    files["parquet/content-column.parquet"] = write(
        "content-column.parquet", order[:6], compression="snappy", column="content")
    files["parquet/empty.parquet"] = write("empty.parquet", [], compression="snappy")

    # Files the reader must refuse.
    bad = {}
    write("bad/delta-byte-array.parquet", order[:6], dictionary=False,
          column_encoding={"text": "DELTA_BYTE_ARRAY"})
    bad["bad/delta-byte-array.parquet"] = "DELTA_BYTE_ARRAY"
    write("bad/brotli.parquet", order[:6], compression="brotli")
    bad["bad/brotli.parquet"] = "BROTLI"
    write("bad/lz4.parquet", order[:6], compression="lz4")
    bad["bad/lz4.parquet"] = "LZ4"
    pq.write_table(pa.table({"text": pa.array([["a", "b"], ["c"]], pa.list_(pa.string()))}),
                   ROOT / "bad" / "nested-list.parquet")
    bad["bad/nested-list.parquet"] = "nested"
    pq.write_table(pa.table({"text": pa.array([{"body": "a"}], pa.struct([("body", pa.string())]))}),
                   ROOT / "bad" / "struct.parquet")
    bad["bad/struct.parquet"] = "nested"
    pq.write_table(pa.table({"text": pa.array([1, 2], pa.int64())}), ROOT / "bad" / "int-column.parquet")
    bad["bad/int-column.parquet"] = "INT64"

    # JSON lines.
    jl = []
    jrows = []
    line = 0

    def add(obj_text, cid=None):
        nonlocal line
        jl.append(obj_text)
        line += 1
        if cid is not None:
            jrows.append([line, cid])

    for k, cid in enumerate(order):
        t = catalog[cid]
        if k % 3 == 0:
            add(json.dumps({"text": t}, ensure_ascii=False), cid)
        elif k % 3 == 1:
            add(json.dumps({"meta": {"pile_set_name": "Pile-CC", "n": [1, 2.5e-3, -0, True, None]}, "text": t},
                           ensure_ascii=True), cid)
        else:
            add(json.dumps({"id": k, "text": t, "tags": ["a", {"b": "c\"}"}], "x": None}), cid)
    add("")  # blank line
    add('{"text": null, "meta": 1}')  # null text: counted, skipped
    add('{"text": "surrogates \\ud83d\\ude00 and \\u00e9 and \\/ slash"}', len(catalog))
    catalog.append("surrogates 😀 and é and / slash")
    add('{"text": "first", "text": "last wins"}', len(catalog))
    catalog.append("last wins")
    add('  {"text":"spaces around"}  ', len(catalog))
    catalog.append("spaces around")
    body = "\n".join(jl[:5]) + "\r\n" + "\n".join(jl[5:])  # one CRLF line ending; no final newline
    (ROOT / "jsonl" / "docs.jsonl").write_bytes(body.encode())
    jnulls = 1
    files["jsonl/docs.jsonl"] = {"rows": jrows, "nulls": jnulls, "skipped": []}
    (ROOT / "jsonl" / "docs.jsonl.zst").write_bytes(pa.compress(body.encode(), codec="zstd", asbytes=True))
    files["jsonl/docs.jsonl.zst"] = {"rows": jrows, "nulls": jnulls, "skipped": []}
    raw = body.encode()
    cut = len(raw) // 2 + 3
    (ROOT / "jsonl" / "docs-2frames.jsonl.zst").write_bytes(
        pa.compress(raw[:cut], codec="zstd", asbytes=True) + pa.compress(raw[cut:], codec="zstd", asbytes=True))
    files["jsonl/docs-2frames.jsonl.zst"] = {"rows": jrows, "nulls": jnulls, "skipped": []}

    inv = [
        (json.dumps({"text": catalog[0]}), 0),
        (json.dumps({"text": catalog[2]}, ensure_ascii=False), 2),
        ('{"text": "unterminated', None),        # line 3: invalid JSON
        (json.dumps({"text": catalog[4]}, ensure_ascii=False), 4),
        ('{"body": "no text field"}', None),     # line 5: missing field
        ('{"text": 42}', None),                  # line 6: not a string
        ('["text", "an array"]', None),          # line 7: not an object
        ('{"text": "ok"} trailing', None),       # line 8: data after the object
        (json.dumps({"text": catalog[10]}), 10),
    ]
    (ROOT / "jsonl" / "invalid.jsonl").write_text("\n".join(t for t, _ in inv) + "\n")
    files["jsonl/invalid.jsonl"] = {
        "rows": [[k + 1, c] for k, (_, c) in enumerate(inv) if c is not None], "nulls": 0,
        "skipped": [3, 5, 6, 7, 8], "first_error_line": 3}
    (ROOT / "jsonl" / "content.jsonl").write_text(
        "\n".join(json.dumps({"content": catalog[c], "text": 1}) for c in order[:5]) + "\n")
    files["jsonl/content.jsonl"] = {"rows": [[k + 1, c] for k, c in enumerate(order[:5])], "nulls": 0,
                                    "skipped": [], "field": "content"}
    files["parquet/content-column.parquet"]["field"] = "content"

    expected = {"catalog": catalog, "files": files, "bad": bad}
    (ROOT / "expected.json").write_text(json.dumps(expected, ensure_ascii=True, indent=1, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file())
    print(f"wrote {sum(1 for p in ROOT.rglob('*') if p.is_file())} files, {total / 1024:.0f} KB, under {ROOT}")


if __name__ == "__main__":
    main()

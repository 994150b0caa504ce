"""Reads a fusellm teacher dump (manifest.json + shard-*.fzst) in Python, independently of the Swift code:
both text record layouts (FTB1: q16/f16/f32 values; FTB2: qgap). Needs numpy and zstandard.

    for text in read_dump("work/dumps/smollm2"):
        text["tokens"], text["ids"], text["logprobs"]   # [n], [n, k] (highest first), [n, k]
"""
import json
import os
import struct

import numpy as np
import zstandard


def _varints(buf, pos, n):
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        v = s = 0
        while True:
            b = buf[pos]
            pos += 1
            v |= (b & 0x7F) << s
            s += 7
            if b < 0x80:
                break
        out[i] = v
    return out, pos


def _ftb1(raw, encoding):
    (tid, n, k, ce_count), pos = _varints(raw, 4, 4)
    ce_sum = struct.unpack_from("<d", raw, pos)[0]
    pos += 8
    tokens, pos = _varints(raw, pos, n)
    deltas, pos = _varints(raw, pos, n * k)
    ids = np.cumsum(deltas.reshape(n, k), axis=1)
    if encoding == "f32":
        vals = np.frombuffer(raw, "<f4", n * k, pos).astype(np.float32)
    elif encoding == "f16":
        vals = np.frombuffer(raw, "<f2", n * k, pos).astype(np.float32)
    else:  # q16
        vals = -np.frombuffer(raw, "<u2", n * k, pos).astype(np.float32) / 1024
    vals = vals.reshape(n, k)
    order = np.array([np.lexsort((ids[p], -vals[p])) for p in range(n)]).reshape(n, k)
    return dict(text_id=int(tid), tokens=tokens, ids=np.take_along_axis(ids, order, 1),
                logprobs=np.take_along_axis(vals, order, 1), ce_sum=ce_sum, ce_count=int(ce_count))


def _ftb2(raw):
    (tid, n, k, ce_count, id_bytes, streams), pos = _varints(raw, 4, 6)
    ce_sum = struct.unpack_from("<d", raw, pos)[0]
    pos += 8
    lengths, pos = _varints(raw, pos, streams)
    parts = []
    for length in lengths:
        parts.append(zstandard.ZstdDecompressor().decompress(raw[pos:pos + length]))
        pos += length
    tokens, _ = _varints(parts[0], 0, n)
    q = np.zeros((n, k), dtype=np.int64)
    q[:, 0], _ = _varints(parts[1], 0, n)
    gaps = np.frombuffer(parts[2], np.uint8).astype(np.int64).reshape(max(k - 1, 0), n)
    escaped = np.flatnonzero(gaps.ravel() == 255)
    large, _ = _varints(parts[3], 0, len(escaped))
    flat = gaps.ravel().copy()
    flat[escaped] += large  # rank-major order, as written
    q[:, 1:] = np.cumsum(flat.reshape(max(k - 1, 0), n).T, axis=1) + q[:, :1]
    codes = np.zeros(n * k, dtype=np.int64)
    for plane in range(id_bytes):
        codes |= np.frombuffer(parts[4 + plane], np.uint8).astype(np.int64) << (8 * plane)
    codes = codes.reshape(k, n).T
    nxt = np.append(tokens[1:], -1)
    ids = np.where(codes == 0, nxt[:, None], codes - 1)
    logprobs = (-q / 512).astype(np.float32)
    out = dict(text_id=int(tid), tokens=tokens, ids=ids, logprobs=logprobs, ce_sum=ce_sum, ce_count=int(ce_count))
    if streams == 5 + id_bytes:
        # Each position's ce: the next token's entry where it was kept, else the stream's next varint.
        token_ce = np.zeros(n, dtype=np.float32)
        stored = iter(_varints(parts[4 + id_bytes], 0, int(sum(1 for p in range(n) if not (ids[p] == nxt[p]).any())))[0])
        for p in range(n):
            hit = np.flatnonzero(ids[p] == nxt[p]) if p + 1 < n else []
            token_ce[p] = -logprobs[p, hit[0]] if len(hit) else next(stored) / 512
        out["token_ce"] = token_ce
    return out


def read_dump(directory):
    """Yields every text of the dump in order."""
    manifest = json.load(open(os.path.join(directory, "manifest.json")))
    encoding = manifest["value_encoding"]
    for shard in manifest["shards"]:
        data = open(os.path.join(directory, shard["file"]), "rb").read()
        assert data[-4:] == b"FTS1", shard["file"]
        count = struct.unpack_from("<Q", data, len(data) - 12)[0]
        start = len(data) - 12 - 8 * (count + 1)
        offsets = struct.unpack_from("<%dQ" % (count + 1), data, start)
        for i in range(count):
            raw = zstandard.ZstdDecompressor().decompress(data[offsets[i]:offsets[i + 1]])
            yield _ftb2(raw) if raw[:4] == b"FTB2" else _ftb1(raw, encoding)

#!/usr/bin/env python3
"""The Python side of `fusellm bench align`: a straightforward implementation of the alignment, timed on the
same inputs as ours.

  mined     MinED as FuseLLM's vocab_mapping.py computes it (exact match, else `min` of `editdistance.eval`
            over every target token), on the normalised vocabularies `fusellm bench align` exports, with a
            multiprocessing pool of --processes workers. A full 50k × 32k map takes this approach tens of
            minutes, so it maps an evenly spread sample of the inexact source tokens and extrapolates; the
            sample's results come back so the bench can check that both give the same map.
  dtw       others.py's dtw (numpy matrix, Python loops, editdistance cost) on the exported token sequences.
  make-vocab  trains the ~32k SentencePiece BPE tokenizer (Llama-2 style) the bench maps SmolLM2 onto, from
            data/sample/minipile (needs sentencepiece and pyarrow).

Prints one JSON object on its last line. Needs editdistance and numpy (pip install editdistance numpy).
"""
import argparse
import json
import multiprocessing
import time

SPACE = 0x20

_targets = None


def _init(targets):
    global _targets
    _targets = targets


def _nearest(units):
    import editdistance
    return min((editdistance.eval(units, v), j) for j, v in _targets)


def mined(args):
    data = json.load(open(args.vocabs))
    src_units, src_kinds = data["source_units"], data["source_kinds"]
    tgt_units, tgt_kinds = data["target_units"], data["target_kinds"]
    textual = {}
    for j, (u, k) in enumerate(zip(tgt_units, tgt_kinds)):
        key = tuple(u)
        if k == 0 and (key not in textual or tgt_kinds[textual[key]] != 0):
            textual[key] = j
        elif k == 1 and key not in textual:
            textual[key] = j
    start = time.perf_counter()
    pending = [i for i, (u, k) in enumerate(zip(src_units, src_kinds)) if k in (0, 1) and tuple(u) not in textual]
    exact_seconds = time.perf_counter() - start
    step = max(1, len(pending) // args.sample)
    sample = pending[::step][:args.sample]
    candidates = [(j, u) for j, (u, k) in enumerate(zip(tgt_units, tgt_kinds)) if k in (0, 1)]
    start = time.perf_counter()
    with multiprocessing.Pool(args.processes, initializer=_init, initargs=(candidates,)) as pool:
        results = pool.map(_nearest, [src_units[i] for i in sample], chunksize=4)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "impl": "python editdistance", "processes": args.processes, "pending": len(pending), "sampled": len(sample),
        "seconds_sampled": seconds, "seconds_estimated": exact_seconds + seconds * len(pending) / max(1, len(sample)),
        "sample_ids": sample, "sample_targets": [j for _, j in results], "sample_distances": [d for d, _ in results],
    }))


def dtw(args):
    import editdistance
    import numpy as np
    data = json.load(open(args.sequences))
    src = [[u for u in t if u != SPACE] for t in data["source"]]
    tgt = [[u for u in t if u != SPACE] for t in data["target"]]
    start = time.perf_counter()
    matrix = np.zeros((len(src) + 1, len(tgt) + 1))
    matrix[0, :] = np.inf
    matrix[:, 0] = np.inf
    matrix[0, 0] = 0
    for i, a in enumerate(src):
        for j, b in enumerate(tgt):
            matrix[i + 1, j + 1] = editdistance.eval(a, b) + min(matrix[i, j + 1], matrix[i + 1, j], matrix[i, j])
    seconds = time.perf_counter() - start
    print(json.dumps({"impl": "python dtw", "source_tokens": len(src), "target_tokens": len(tgt), "seconds": seconds,
                      "cost": int(matrix[-1, -1])}))


def make_vocab(args):
    import glob
    import os
    from pathlib import Path

    import pyarrow.parquet as pq
    import sentencepiece as spm
    root = Path(__file__).resolve().parent.parent
    docs = []
    for path in sorted(glob.glob(str(root / "data/sample/minipile/*.parquet"))):
        docs += pq.read_table(path, columns=["text"]).column("text").to_pylist()
    lines = [line for doc in docs for line in doc.split("\n") if line.strip()]
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=str(out / "tokenizer"), vocab_size=args.size, model_type="bpe",
        byte_fallback=True, normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=True,
        split_digits=True, allow_whitespace_only_pieces=True, character_coverage=0.9995, num_threads=1,
        max_sentence_length=1 << 16, minloglevel=2)
    os.remove(out / "tokenizer.vocab")
    print(json.dumps({"tokenizer": str(out / "tokenizer.model"), "size": args.size}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("mined")
    p.add_argument("--vocabs", required=True)
    p.add_argument("--sample", type=int, default=200)
    p.add_argument("--processes", type=int, default=2)
    p = sub.add_parser("dtw")
    p.add_argument("--sequences", required=True)
    p = sub.add_parser("make-vocab")
    p.add_argument("--output", required=True)
    p.add_argument("--size", type=int, default=32000)
    args = parser.parse_args()
    {"mined": mined, "dtw": dtw, "make-vocab": make_vocab}[args.command](args)

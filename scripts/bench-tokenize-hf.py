#!/usr/bin/env python3
"""Encoding speed of the Python reference tokenizers, single-threaded, for comparison with
`fusellm bench tokenize` (FuseText.measureEncodeThroughput): one warm-up encode of the whole text, then
`--repeats` timed encodes of it. Prints one JSON object; MB/s counts 10^6 bytes of UTF-8 input per second.

  python3 scripts/bench-tokenize-hf.py --tokenizer DIR_OR_FILE --text FILE [--repeats 5]

DIR_OR_FILE: a tokenizer.json (HF `tokenizers`), a tokenizer.model (`sentencepiece`), or a directory holding
one of them (tokenizer.json first). FILE: UTF-8 text, encoded as one string; a .jsonl file of JSON strings
(like Tests/Fixtures/tokenizers/corpus.jsonl) is joined with newlines.
"""
import os

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse
import json
import time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    path = Path(args.tokenizer)
    if path.is_dir():
        path = path / "tokenizer.json" if (path / "tokenizer.json").exists() else path / "tokenizer.model"
    with open(args.text, encoding="utf-8", newline="") as fh:  # no newline translation: the bytes as they are
        raw = fh.read()
    if args.text.endswith(".jsonl"):
        text = "\n".join(json.loads(line) for line in raw.split("\n") if line)
    else:
        text = raw

    if path.suffix == ".model":
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=str(path))
        encode = sp.encode
        library = f"sentencepiece {spm.__version__}"
    else:
        import tokenizers
        tok = tokenizers.Tokenizer.from_file(str(path))
        encode = lambda s: tok.encode(s, add_special_tokens=False).ids
        library = f"tokenizers {tokenizers.__version__}"

    n_bytes = len(text.encode("utf-8"))
    tokens = len(encode(text))  # warm-up

    # The Python libraries encode a very long string more slowly than the same text in paragraphs, so both are
    # timed and the faster one is reported: the comparison is against the reference at its best.
    paragraphs = text.split("\n\n")
    modes = {"whole text": lambda: encode(text), "paragraphs": lambda: [encode(p) for p in paragraphs]}
    timings = {}
    for mode, run in modes.items():
        run()
        start = time.perf_counter()
        for _ in range(max(1, args.repeats)):
            run()
        timings[mode] = time.perf_counter() - start
    mode = min(timings, key=timings.get)
    seconds = timings[mode]
    print(json.dumps({
        "library": library, "tokenizer": str(path), "text": args.text, "bytes": n_bytes, "tokens": tokens,
        "repeats": args.repeats, "seconds": round(seconds, 4), "mode": mode,
        "mb_per_s": round(n_bytes * max(1, args.repeats) / 1e6 / seconds, 3), "threads": 1,
        "mb_per_s_by_mode": {m: round(n_bytes * max(1, args.repeats) / 1e6 / t, 3) for m, t in timings.items()},
    }))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""What FuseLLM's forward_for_logits.py computes, for `fusellm dump import`: each text + the EOS token, tokenized
without special tokens, through a transformers model; per position the top-k raw logits (fp16, as the reference
casts them) and their ids; metric_ce = the mean next-token cross-entropy over the text's positions. The texts come
from a `fusellm dump export --prepared …` file (its `text` column), in order; written as Parquet through HF
datasets, the reference's dataset library. With --compare-dump, the dump `fusellm dump import` made from the output
is compared with fusellm's own dump of the same model.

    python3 scripts/reference-forward-to-parquet.py --texts EXPORT.parquet --model HF_DIR --out LOGITS.parquet [--k 10]
    python3 scripts/reference-forward-to-parquet.py --compare IMPORTED_DUMP OWN_DUMP
"""
import argparse
import os
import sys

import numpy as np


def forward(args):
    import pyarrow.parquet as pq
    import torch
    import torch.nn.functional as F
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(os.cpu_count())
    texts = pq.read_table(args.texts, columns=["text"]).column("text").to_pylist()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32).eval()
    rows = {"text": [], "input_ids": [], "attention_mask": [], "labels": [], "per_step_logits": [],
            "per_step_indices": [], "metric_ce": []}
    with torch.no_grad():
        for i, text in enumerate(texts):
            ids = tokenizer(text + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
            logits = model(torch.tensor([ids])).logits[0].to(torch.float16)
            values, indices = torch.topk(logits, k=args.k)
            ce = F.cross_entropy(logits[:-1].float(), torch.tensor(ids[1:]), reduction="mean") if len(ids) > 1 else torch.tensor(0.0)
            rows["text"].append(text)
            rows["input_ids"].append(ids)
            rows["attention_mask"].append([1] * len(ids))
            rows["labels"].append(ids)
            rows["per_step_logits"].append(values.numpy().astype(np.float16))
            rows["per_step_indices"].append(indices.numpy())
            rows["metric_ce"].append(np.float16(ce.item()))
            print(f"\r{i + 1}/{len(texts)} texts", end="", file=sys.stderr)
    print(file=sys.stderr)
    Dataset.from_dict(rows).to_parquet(args.out)
    print(f"wrote {args.out}: {len(texts)} rows, k = {args.k}")


def compare(imported, own):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
    from fusellm_dump import read_dump

    same_sets = positions = 0
    worst = []
    for a, b in zip(read_dump(imported), read_dump(own)):
        assert np.array_equal(a["tokens"], b["tokens"]), a["text_id"]
        k = min(a["ids"].shape[1], b["ids"].shape[1])
        for p in range(len(a["tokens"])):
            positions += 1
            sa, sb = set(a["ids"][p, :k]), set(b["ids"][p, :k])
            if sa != sb:
                continue
            same_sets += 1
            # Both as log-probabilities over the shared kept entries.
            va = dict(zip(a["ids"][p, :k], a["logprobs"][p, :k].astype(np.float64)))
            vb = dict(zip(b["ids"][p, :k], b["logprobs"][p, :k].astype(np.float64)))
            x = np.array([va[i] for i in sa]); y = np.array([vb[i] for i in sa])
            x -= np.log(np.exp(x).sum()); y -= np.log(np.exp(y).sum())
            worst.append(np.abs(x - y).max())
    worst = np.array(worst)
    print(f"{positions} positions: same top-{k} set at {same_sets / positions:.2%}; where equal, "
          f"max |Δ log p| over the kept entries: median {np.median(worst):.2e}, 99th percentile "
          f"{np.percentile(worst, 99):.2e}, max {worst.max():.2e}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts")
    parser.add_argument("--model")
    parser.add_argument("--out")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--compare", nargs=2, metavar=("IMPORTED", "OWN"))
    args = parser.parse_args()
    compare(*args.compare) if args.compare else forward(args)

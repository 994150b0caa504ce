#!/usr/bin/env python3
"""Reference for `fusellm bench dump`: what a dump costs in transformers (PyTorch eager, CPU, float32, same
threads) on the same token ids: per text a forward pass, log_softmax, torch.topk(k) and the mean next-token
cross-entropy. Prints one JSON line: tokens/s and the top-k log-probs it found (for the exactness check).

    python3 scripts/bench-dump-torch.py --model checkpoints/SmolLM2-135M-Instruct.Q4_1.gguf --ids-file ids.json
"""
import argparse
import json
import os
import time

import torch
import transformers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="HF directory or .gguf file")
    ap.add_argument("--ids-file", required=True, help="JSON list of token-id lists, one per text")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--bos-first", action="store_true",
                    help="each text starts with the model's BOS (Gemma): its row is computed but not reported or scored")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    transformers.utils.logging.disable_progress_bar()
    if a.model.endswith(".gguf"):
        model = transformers.AutoModelForCausalLM.from_pretrained(os.path.dirname(a.model) or ".",
                                                                  gguf_file=os.path.basename(a.model), dtype=torch.float32)
    else:
        model = transformers.AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    model.eval()
    with open(a.ids_file) as f:
        texts = [torch.tensor([ids]) for ids in json.load(f)]
    results = []
    with torch.inference_mode():
        model(texts[0][:, :8])  # warm-up
        start = time.perf_counter()
        for ids in texts:
            logits = model(ids).logits[0].float()
            text = ids[0]
            if a.bos_first:
                logits, text = logits[1:], text[1:]
            logp = torch.log_softmax(logits, dim=-1)
            top = torch.topk(logp, a.k, dim=-1)
            ce = torch.nn.functional.cross_entropy(logits[:-1], text[1:], reduction="sum").item()
            results.append((top.indices, top.values, ce))
        seconds = time.perf_counter() - start
    tokens = sum(t.shape[1] - (1 if a.bos_first else 0) for t in texts)
    print(json.dumps({
        "impl": "transformers", "threads": a.threads, "texts": len(texts), "tokens": tokens, "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "top_ids": [r[0].tolist() for r in results], "top_logprobs": [r[1].tolist() for r in results],
        "ce_sums": [r[2] for r in results],
    }))


if __name__ == "__main__":
    main()

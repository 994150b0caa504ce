#!/usr/bin/env python3
"""Reference for `fusellm bench infer`: forward-pass tokens/s of the same model in transformers (PyTorch eager,
CPU, float32, same threads) on the same token ids. Prints one JSON line."""
import argparse
import json
import os
import time

import torch
import transformers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="HF directory or .gguf file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--ids", required=True, help="comma-separated token ids")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    transformers.utils.logging.disable_progress_bar()
    if a.model.endswith(".gguf"):
        model = transformers.AutoModelForCausalLM.from_pretrained(os.path.dirname(a.model) or ".",
                                                                  gguf_file=os.path.basename(a.model), dtype=torch.float32)
    else:
        model = transformers.AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    model.eval()
    ids = torch.tensor([[int(x) for x in a.ids.split(",")]])
    best = float("inf")
    with torch.inference_mode():
        model(ids)
        for _ in range(a.repeats):
            start = time.perf_counter()
            model(ids)
            best = min(best, time.perf_counter() - start)
    print(json.dumps({"impl": "transformers", "threads": a.threads, "seq": ids.shape[1], "forward_s": best,
                      "tokens_per_s": ids.shape[1] / best}))


if __name__ == "__main__":
    main()

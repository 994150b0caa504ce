#!/usr/bin/env python3
"""Checks that transformers loads a checkpoint written by `fusellm train` unchanged and computes
the same perplexity as `fusellm eval` on the same byte-token blocks.

    python3 scripts/check-hf-roundtrip.py [CHECKPOINT_DIR] [TEXT_FILE]

Defaults: checkpoints/sample-run/final (made by scripts/run-sample.sh) and the first 64 KB of
data/sample/python-reference.txt. Needs torch and transformers; exits non-zero on a mismatch.
"""
import json
import math
import pathlib
import subprocess
import sys
import tempfile

import torch
from transformers import LlamaForCausalLM

root = pathlib.Path(__file__).resolve().parent.parent
ckpt = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "checkpoints/sample-run/final"
text_file = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else root / "data/sample/python-reference.txt"
block = 128

data = text_file.read_bytes()[:65536]
with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as f:
    f.write(data)
    sample = f.name

model = LlamaForCausalLM.from_pretrained(ckpt, torch_dtype=torch.float32).eval()
ids = torch.tensor(list(data[: len(data) // block * block]), dtype=torch.long).view(-1, block)
total, count = 0.0, 0
with torch.no_grad():
    for start in range(0, ids.shape[0], 8):
        batch = ids[start:start + 8]
        logits = model(batch).logits[:, :-1].float()
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1), reduction="sum")
        total += loss.item()
        count += batch[:, 1:].numel()
torch_ppl = math.exp(total / count)

out = subprocess.run([str(root / ".build/release/fusellm"), "eval", "--model", str(ckpt), "--data", sample,
                      "--block-size", str(block), "--batch-size", "8"], check=True, capture_output=True, text=True)
ours = json.loads(out.stdout.strip().splitlines()[-1])
rel = abs(ours["perplexity"] - torch_ppl) / torch_ppl
print(json.dumps({"checkpoint": str(ckpt), "tokens": count, "transformers_ppl": torch_ppl,
                  "fusellm_ppl": ours["perplexity"], "relative_difference": rel}))
sys.exit(0 if rel < 1e-4 and ours["tokens"] == count else 1)

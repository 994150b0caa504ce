#!/usr/bin/env python3
"""Checks that transformers loads a checkpoint written by fusellm (`fusellm train` or `fusellm convert`) with its
tokenizer, and computes the same perplexity as `fusellm eval` on the same text.

    python3 scripts/check-hf-roundtrip.py [CHECKPOINT_DIR] [TEXT_FILE]

Defaults: checkpoints/sample-run/final (made by scripts/run-sample.sh) and data/sample/python-reference.txt,
of which the first 64 KB are used. Both sides tokenize the text as one document with EOS appended (when the
tokenizer has one) and cut blocks of 128 tokens. Needs torch and transformers; exits non-zero on a mismatch.
"""
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

root = pathlib.Path(__file__).resolve().parent.parent
ckpt = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "checkpoints/sample-run/final"
text_file = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else root / "data/sample/python-reference.txt"
block = 128

text = text_file.read_bytes()[:65536].decode("utf-8", errors="ignore")
with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
    f.write(text)
    sample = f.name

tokenizer = AutoTokenizer.from_pretrained(ckpt)
model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32).eval()
tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
if tokenizer.eos_token_id is not None:
    tokens.append(tokenizer.eos_token_id)
ids = torch.tensor(tokens[: len(tokens) // block * block], dtype=torch.long).view(-1, block)
total, count = 0.0, 0
with torch.no_grad():
    for start in range(0, ids.shape[0], 8):
        batch = ids[start:start + 8]
        logits = model(batch).logits[:, :-1].float()
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1), reduction="sum")
        total += loss.item()
        count += batch[:, 1:].numel()
torch_ppl = math.exp(total / count)

binary = os.environ.get("FUSELLM_BIN", str(root / ".build/release/fusellm"))
out = subprocess.run([binary, "eval", "--model", str(ckpt), "--data", sample,
                      "--block-size", str(block), "--batch-size", "8"], check=True, capture_output=True, text=True)
ours = json.loads(out.stdout.strip().splitlines()[-1])
rel = abs(ours["perplexity"] - torch_ppl) / torch_ppl
print(json.dumps({"checkpoint": str(ckpt), "tokens": count, "fusellm_tokens": ours["tokens"], "transformers_ppl": torch_ppl,
                  "fusellm_ppl": ours["perplexity"], "relative_difference": rel}))
sys.exit(0 if rel < 1e-4 and ours["tokens"] == count else 1)

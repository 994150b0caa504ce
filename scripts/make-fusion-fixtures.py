#!/usr/bin/env python3
"""Reference values for the fusion functions and the fused training loss (PyTorch + transformers).

Follows the FuseLLM reference code (src/utils/data_collator.py, src/utils/trainer.py): each teacher's row is
the softmax of its kept logits scattered into a dense vocab-sized tensor; a teacher row with no entries takes the
base (target) model's row; reward = exp(-ce) per block; MinCE takes the teacher of highest reward (torch.argmax,
first maximum); AvgCE weights the teachers by softmax(rewards); the loss is
lambda * CLM + (1 - lambda) * cross_entropy(logits, fused) averaged over every position (attention mask all ones).
Unlike the reference (bf16), everything here is float32 so the fixture checks the arithmetic, not bf16 rounding.

Inputs: the `gqa_untied` model and input ids of Tests/Fixtures/llama (made by scripts/make-fixtures.py).
Writes Tests/Fixtures/fusion/{teachers,expected}.safetensors and meta.json.

    python3 scripts/make-fusion-fixtures.py
"""
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "Tests/Fixtures/llama/gqa_untied"
OUT = ROOT / "Tests/Fixtures/fusion"
S, W, LAMBDA = 3, 4, 0.75

torch.manual_seed(7)
torch.set_num_threads(1)
config = LlamaConfig.from_pretrained(MODEL)
config._attn_implementation = "eager"
model = LlamaForCausalLM.from_pretrained(MODEL, config=config, torch_dtype=torch.float32, attn_implementation="eager")
model.train()
ids = load_file(MODEL / "reference.safetensors")["input_ids"].long()
B, T = ids.shape
V = config.vocab_size
rows = B * T

# Teachers: ids in the target vocabulary (-1 = empty slot), logits, a ce per block.
t_ids = torch.randint(0, V, (S, rows, W), dtype=torch.int32)
t_ids[1, :, 1] = t_ids[0, :, 0]                       # the same id from two teachers (AvgCE must add them)
t_logits = torch.randn(S, rows, W) * 2
t_ids[:, torch.arange(rows) % 5 == 3, W - 1] = -1     # some rows keep fewer than W entries
t_ids[1, torch.arange(rows) % 7 == 2, :] = -1         # some rows of teacher 1 are empty -> base row
for s in range(S):                                    # distinct ids within a row, as the aligner guarantees
    for r in range(rows):
        seen = set()
        for j in range(W):
            v = int(t_ids[s, r, j])
            while v >= 0 and v in seen:
                v = (v + 1) % V
            if v >= 0:
                t_ids[s, r, j] = v
                seen.add(v)
ce = torch.tensor([[2.5, 2.1, 2.9], [1.7, 2.4, 1.9]], dtype=torch.float32)  # [B, S]; block 0 -> 1, block 1 -> 0


def dense(s, r):
    keep = t_ids[s, r] >= 0
    out = torch.zeros(V)
    if keep.any():
        out.scatter_(0, t_ids[s, r][keep].long(), torch.softmax(t_logits[s, r][keep], -1))
        return out
    return dense(0, r)  # the reference's "bad case": the base model's distribution


dists = torch.stack([torch.stack([dense(s, r) for r in range(rows)]) for s in range(S)])  # [S, rows, V]
rewards = 1 / torch.exp(ce)                                                                 # [B, S]
best = torch.argmax(rewards, dim=1)                                                         # [B]
weights = torch.softmax(rewards, dim=1)                                                     # [B, S]
fused = {}
fused["mince"] = torch.cat([dists[best[b], b * T:(b + 1) * T] for b in range(B)])
fused["avgce"] = torch.cat([sum(weights[b, s] * dists[s, b * T:(b + 1) * T] for s in range(S)) for b in range(B)])

expected = {"weights_avgce": weights, "best_mince": best.to(torch.int32)}
for name, target in fused.items():
    model.zero_grad()
    out = model(input_ids=ids, labels=ids)
    logits = out.logits.reshape(rows, V)
    soft = torch.nn.functional.cross_entropy(logits, target, reduction="none").mean()
    loss = LAMBDA * out.loss + (1 - LAMBDA) * soft
    loss.backward()
    expected[f"{name}.fused"] = target
    expected[f"{name}.clm"] = out.loss.detach().reshape(1)
    expected[f"{name}.soft"] = soft.detach().reshape(1)
    expected[f"{name}.loss"] = loss.detach().reshape(1)
    if name == "avgce":
        for pname, p in model.named_parameters():
            expected[f"grad.{pname}"] = p.grad.detach().clone()

OUT.mkdir(parents=True, exist_ok=True)
save_file({"ids": t_ids.contiguous(), "logits": t_logits.contiguous(), "ce": ce, "input_ids": ids.to(torch.int32)},
          OUT / "teachers.safetensors")
save_file({k: v.contiguous() for k, v in expected.items()}, OUT / "expected.safetensors")
(OUT / "meta.json").write_text(json.dumps({"lambda": LAMBDA, "teachers": S, "width": W, "batch": B, "seq_len": T,
                                           "model": "Tests/Fixtures/llama/gqa_untied"}, indent=1) + "\n")
print("wrote", OUT, "best", best.tolist(), "weights", weights.tolist())

#!/usr/bin/env python3
"""PyTorch bf16 autocast references for `--precision bf16` (Tests/LlamaTests/BF16AutocastTests.swift).

For each Llama fixture under Tests/Fixtures/llama/<name>/ (made by make-fixtures.py) this runs the same input_ids
through transformers' LlamaForCausalLM (eager attention) under torch.autocast("cpu", dtype=torch.bfloat16) —
PyTorch's mixed precision: fp32 weights, bf16 matmuls, fp32 softmax and loss — and writes
autocast-bf16.safetensors: logits, loss and grad.<param> (backward outside autocast, as PyTorch prescribes).

The test compares fusellm's bf16 path with these and with the fp32 reference.safetensors: bf16 operands give an
error of the order of 2^-9 per product either way, so the test bounds fusellm's distance from fp32 by autocast's.

    python3 scripts/make-bf16-fixtures.py
"""
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import LlamaForCausalLM

root = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "llama"
torch.set_num_threads(1)
for name in ["gqa_untied", "tied"]:
    d = root / name
    model = LlamaForCausalLM.from_pretrained(d, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    fp32 = load_file(str(d / "reference.safetensors"))
    ids = fp32["input_ids"]
    model.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(ids, labels=ids)
    out.loss.backward()
    ref = {"logits": out.logits.detach().float().contiguous(), "loss": out.loss.detach().float().reshape(1)}
    for n, p in model.named_parameters():
        ref["grad." + n] = p.grad.detach().float().contiguous()
    print(f"{name}: autocast loss {ref['loss'].item():.6f} vs fp32 {fp32['loss'].item():.6f}; "
          f"max |logits − fp32| {(ref['logits'] - fp32['logits']).abs().max().item():.4g}")
    save_file(ref, str(d / "autocast-bf16.safetensors"))

#!/usr/bin/env python3
"""PyTorch (CPU) reference benchmark for one Llama training step: float32, or bf16 autocast.

A timed step = forward with labels + backward + clip_grad_norm_(1.0)
+ AdamW step (lr 1e-4, betas (0.9, 0.95), wd 0.1) + zero_grad, on a randomly
initialised LlamaForCausalLM with untied embeddings and random token batches.
Prints one JSON line to stdout:
  {"impl":"pytorch","threads":..,"tokens_per_s":..,"step_s":..,"peak_rss_mb":..,"config":{..}}

Usage:
    python3 scripts/bench-train-torch.py [--threads 2] [--steps 5] [--warmup 2]
        [--vocab 8192 --hidden 256 --intermediate 704 --layers 4 --heads 8
         --kv-heads 4 --seq 256 --batch 4] [--attn eager|sdpa] [--autocast bf16]

--autocast bf16 runs forward and loss under torch.autocast("cpu", dtype=torch.bfloat16) (PyTorch's mixed precision:
fp32 master weights and optimizer, bf16 matmuls), with the backward outside it, as the PyTorch docs prescribe.
"""
import contextlib

import argparse
import json
import resource
import statistics
import sys
import time

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--intermediate", type=int, default=704)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--attn", choices=["eager", "sdpa"], default="eager")
    ap.add_argument("--autocast", choices=["none", "bf16"], default="none")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(args.seed)

    cfg = LlamaConfig(
        vocab_size=args.vocab, hidden_size=args.hidden,
        intermediate_size=args.intermediate, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
        max_position_embeddings=max(args.seq, 2048), rope_theta=10000.0,
        rms_norm_eps=1e-5, tie_word_embeddings=False, hidden_act="silu",
        attention_bias=False, mlp_bias=False, rope_scaling=None,
        bos_token_id=1, eos_token_id=2, initializer_range=0.02,
    )
    cfg._attn_implementation = args.attn
    model = LlamaForCausalLM(cfg).to(torch.float32)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())

    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-4, betas=(0.9, 0.95), eps=1e-8,
    )

    total = args.warmup + args.steps
    batches = torch.randint(0, args.vocab, (total, args.batch, args.seq),
                            dtype=torch.int64)

    def mixed():
        if args.autocast == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step(ids):
        with mixed():
            loss = model(ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    for i in range(args.warmup):
        step(batches[i])

    times, losses = [], []
    for i in range(args.warmup, total):
        t0 = time.perf_counter()
        losses.append(step(batches[i]))
        times.append(time.perf_counter() - t0)

    # The median step is robust to one step hit by another process; fusellm bench train reports the same.
    step_s = statistics.median(times)
    tokens = args.batch * args.seq
    out = {
        "impl": "pytorch",
        "threads": args.threads,
        "tokens_per_s": round(tokens / step_s, 2),
        "step_s": round(step_s, 5),
        "step_s_mean": round(sum(times) / len(times), 5),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "config": {
            "vocab": args.vocab, "hidden": args.hidden,
            "intermediate": args.intermediate, "layers": args.layers,
            "heads": args.heads, "kv_heads": args.kv_heads, "seq": args.seq,
            "batch": args.batch, "attn": args.attn, "tied": False,
            "dtype": "float32", "autocast": args.autocast, "steps": args.steps, "warmup": args.warmup,
            "params": n_params,
        },
        "torch": torch.__version__,
        "final_loss": round(losses[-1], 5),
    }
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

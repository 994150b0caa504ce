#!/usr/bin/env python3
"""Generate small Llama reference fixtures with PyTorch + transformers.

For each of two tiny configs (`gqa_untied`: GQA 4 heads / 2 KV heads, untied
head; `tied`: MHA 3 heads, tied embeddings, rope_theta 5e5) this writes, under
`Tests/Fixtures/llama/<name>/`:

  config.json, model.safetensors   initial weights (F32, single file, HF layout)
  reference.safetensors            input_ids, logits, loss, grad.<param>,
                                   train.input_ids / loss / grad_norm / lr,
                                   after.<param> (weights after 3 AdamW steps)
  train.json                       optimizer / scheduler hyper-parameters
  bf16-sharded/                    (`tied` only) the initial model in bf16,
                                   sharded into several files + index.json

Everything is deterministic (fixed seeds, float32, eager attention, 1 thread).

Run from anywhere:
    python3 scripts/make-fixtures.py            # -> <repo>/Tests/Fixtures/llama
    python3 scripts/make-fixtures.py --out DIR  # -> DIR/<name>/
"""

import argparse
import copy
import json
import math
import os
from pathlib import Path

import torch
import transformers
from safetensors.torch import save_file, load_file
from transformers import LlamaConfig, LlamaForCausalLM

REPO_ROOT = Path(__file__).resolve().parent.parent

B, T = 2, 16

CONFIGS = {
    "gqa_untied": dict(
        vocab_size=128, hidden_size=64, intermediate_size=96,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=False,
        max_position_embeddings=64, bos_token_id=1, eos_token_id=2,
        initializer_range=0.1,
    ),
    "tied": dict(
        vocab_size=128, hidden_size=48, intermediate_size=80,
        num_hidden_layers=2, num_attention_heads=3, num_key_value_heads=3,
        rope_theta=500000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
        max_position_embeddings=64, bos_token_id=1, eos_token_id=2,
        initializer_range=0.1,
    ),
}

TRAIN = {
    "lr": 1e-2,
    "beta1": 0.9,
    "beta2": 0.95,
    "eps": 1e-8,
    "weight_decay": 0.1,
    "warmup_steps": 1,
    "total_steps": 5,
    "min_lr_rate": 0.1,
    "max_grad_norm": 1.0,
    "steps": 3,
}


def make_scheduler(opt, warmup, total, min_lr_rate):
    fn = getattr(transformers, "get_cosine_with_min_lr_schedule_with_warmup", None)
    if fn is not None:
        return fn(opt, num_warmup_steps=warmup, num_training_steps=total,
                  min_lr_rate=min_lr_rate)

    def factor(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        progress = float(step - warmup) / float(max(1, total - warmup))
        c = 0.5 * (1.0 + math.cos(math.pi * progress))
        return max(0.0, c * (1.0 - min_lr_rate) + min_lr_rate)

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def build_config(params):
    cfg = LlamaConfig(
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
        rope_scaling=None,
        torch_dtype="float32",
        **params,
    )
    cfg._attn_implementation = "eager"
    return cfg


def patch_config_json(path, rope_theta):
    """transformers 5.x writes rope_theta only inside `rope_parameters`; most
    real checkpoints have a top-level `rope_theta` (and `rope_scaling`), so add
    both forms. transformers still loads this file unchanged (checked below)."""
    with open(path) as f:
        c = json.load(f)
    c["rope_theta"] = rope_theta
    c.setdefault("rope_scaling", None)
    with open(path, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")


def make_model(cfg, seed):
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg).to(torch.float32)
    # Non-trivial RMSNorm weights so that their gradients are interesting.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layernorm.weight") or name == "model.norm.weight":
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    model.eval()  # no dropout anyway; keep deterministic
    return model


def write_fixture(name, params, seed, out_root):
    d = out_root / name
    d.mkdir(parents=True, exist_ok=True)
    cfg = build_config(params)
    model = make_model(cfg, seed)
    V = cfg.vocab_size
    init_state = copy.deepcopy(model.state_dict())

    # 1. config + weights
    model.save_pretrained(d, safe_serialization=True)
    gen = d / "generation_config.json"
    if gen.exists():
        gen.unlink()
    patch_config_json(d / "config.json", params["rope_theta"])
    assert (d / "model.safetensors").exists(), "expected a single-file checkpoint"
    saved = load_file(str(d / "model.safetensors"))
    for k, v in saved.items():
        assert v.dtype == torch.float32, (k, v.dtype)

    # 2. forward / loss / grads
    g = torch.Generator().manual_seed(seed + 1)
    input_ids = torch.randint(0, V, (B, T), generator=g, dtype=torch.int64)
    ref = {"input_ids": input_ids}

    with torch.no_grad():
        logits = model(input_ids).logits.float()
    ref["logits"] = logits

    model.zero_grad(set_to_none=True)
    out = model(input_ids, labels=input_ids)
    out.loss.backward()
    ref["loss"] = out.loss.detach().reshape(1).float()
    manual = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, V), input_ids[:, 1:].reshape(-1))
    assert torch.allclose(manual, out.loss.detach(), atol=1e-6), (manual, out.loss)
    param_names = [n for n, _ in model.named_parameters()]
    for n, p in model.named_parameters():
        ref["grad." + n] = p.grad.detach().clone()

    # Reload check: transformers reproduces the logits from the saved files.
    reloaded = LlamaForCausalLM.from_pretrained(
        d, dtype=torch.float32, attn_implementation="eager")
    reloaded.eval()
    with torch.no_grad():
        logits2 = reloaded(input_ids).logits
    assert torch.allclose(logits, logits2, atol=1e-6, rtol=0), \
        (logits - logits2).abs().max()
    del reloaded

    # Training run from the same initial weights.
    tmodel = make_model(cfg, seed)
    tmodel.load_state_dict(init_state)
    tmodel.train()
    decay = [p for p in tmodel.parameters() if p.ndim >= 2]
    no_decay = [p for p in tmodel.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": TRAIN["weight_decay"]},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=TRAIN["lr"], betas=(TRAIN["beta1"], TRAIN["beta2"]), eps=TRAIN["eps"],
    )
    sched = make_scheduler(opt, TRAIN["warmup_steps"], TRAIN["total_steps"],
                           TRAIN["min_lr_rate"])
    steps = TRAIN["steps"]
    train_ids = torch.randint(0, V, (steps, B, T), generator=g, dtype=torch.int64)
    losses, norms, lrs = [], [], []
    for s in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = tmodel(train_ids[s], labels=train_ids[s]).loss
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(tmodel.parameters(),
                                            max_norm=TRAIN["max_grad_norm"])
        lr = opt.param_groups[0]["lr"]
        assert all(grp["lr"] == lr for grp in opt.param_groups)
        losses.append(loss.item())
        norms.append(gn.item())
        lrs.append(lr)
        opt.step()
        sched.step()
    ref["train.input_ids"] = train_ids
    ref["train.loss"] = torch.tensor(losses, dtype=torch.float32)
    ref["train.grad_norm"] = torch.tensor(norms, dtype=torch.float32)
    ref["train.lr"] = torch.tensor(lrs, dtype=torch.float32)
    assert [n for n, _ in tmodel.named_parameters()] == param_names
    for n, p in tmodel.named_parameters():
        ref["after." + n] = p.detach().clone()

    ref = {k: v.contiguous() for k, v in ref.items()}
    save_file(ref, str(d / "reference.safetensors"))
    with open(d / "train.json", "w") as f:
        json.dump(TRAIN, f, indent=2)
        f.write("\n")

    print(f"[{name}] loss={ref['loss'].item():.6f} "
          f"train.loss={losses} grad_norm={norms} lr={lrs}")

    # 3. bf16 sharded copy (tied only)
    if name == "tied":
        sd = d / "bf16-sharded"
        if sd.exists():
            for f in sd.iterdir():
                f.unlink()
        bmodel = make_model(cfg, seed)
        bmodel.load_state_dict(init_state)
        bmodel = bmodel.to(torch.bfloat16)
        bmodel.save_pretrained(sd, safe_serialization=True, max_shard_size="60KB")
        gen = sd / "generation_config.json"
        if gen.exists():
            gen.unlink()
        patch_config_json(sd / "config.json", params["rope_theta"])
        # The bf16 shards reload to exactly the bf16-rounded initial weights.
        # (Logits are not compared bit-for-bit: `.to(bfloat16)` also rounds
        # the rotary inv_freq buffer, which from_pretrained recomputes.)
        rb = LlamaForCausalLM.from_pretrained(
            sd, dtype=torch.bfloat16, attn_implementation="eager").eval()
        bsd = dict(bmodel.named_parameters())
        for n1, p1 in rb.named_parameters():
            assert torch.equal(p1, bsd[n1]), n1
            assert torch.equal(p1, init_state[n1].to(torch.bfloat16)), n1
        with torch.no_grad():
            lb = rb(input_ids).logits.float()
        err = (lb - logits).abs().max().item()
        print(f"[{name}] bf16 reload max |logits - f32 logits| = {err:.4f}")
        assert err < 0.1, err
        shards = sorted(sd.glob("model-*-of-*.safetensors"))
        assert len(shards) > 1, f"expected several shards, got {shards}"
        assert (sd / "model.safetensors.index.json").exists()
        for sh in shards:
            for k, v in load_file(str(sh)).items():
                assert v.dtype == torch.bfloat16, (k, v.dtype)
        print(f"[{name}] bf16-sharded: {len(shards)} shards")

    return ref


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "Tests" / "Fixtures" / "llama")
    args = ap.parse_args()

    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()
    torch.use_deterministic_algorithms(True)
    out_root = args.out.resolve()

    for i, (name, params) in enumerate(CONFIGS.items()):
        write_fixture(name, params, seed=1234 + 100 * i, out_root=out_root)

    total = 0
    print("\nfiles:")
    for root, _, files in sorted(os.walk(out_root)):
        for fn in sorted(files):
            p = Path(root) / fn
            sz = p.stat().st_size
            total += sz
            print(f"  {p.relative_to(out_root)}  {sz / 1024:.1f} KiB")
    print(f"total: {total / 1024 / 1024:.2f} MiB")


if __name__ == "__main__":
    main()

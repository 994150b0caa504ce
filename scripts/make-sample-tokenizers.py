#!/usr/bin/env python3
"""Tokenizers of the small models the main job trains, learnt from the sample corpus's train split.

Fusion joins models with different vocabularies, so the sample pipeline needs more than one:
  data/tokenizers/target-spm/tokenizer.model   SentencePiece BPE, 4096 pieces, Llama-2 style (identity
                                               normaliser, dummy prefix, byte fallback, split digits; <unk> <s> </s>)
  data/tokenizers/source-bpe/tokenizer.json    byte-level BPE (GPT-2 style), 6144 tokens, <|endoftext|>
SmolLM2-135M brings a third (49152-token byte-level BPE) from its GGUF.

Needs pyarrow, sentencepiece and tokenizers (pip install pyarrow sentencepiece tokenizers). Deterministic
(single-threaded trainers, fixed input order). Run: python3 scripts/make-sample-tokenizers.py
"""
import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import glob
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data/tokenizers"


def documents():
    docs = []
    for path in sorted(glob.glob(str(ROOT / "data/sample/minipile/train-*.parquet"))):
        docs += pq.read_table(path, columns=["text"]).column("text").to_pylist()
    return docs


def train_spm(docs, directory):
    import sentencepiece as spm
    directory.mkdir(parents=True, exist_ok=True)
    lines = [line for doc in docs for line in doc.split("\n") if line.strip()]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=str(directory / "tokenizer"), vocab_size=4096,
        model_type="bpe", byte_fallback=True, normalization_rule_name="identity", remove_extra_whitespaces=False,
        add_dummy_prefix=True, split_digits=True, allow_whitespace_only_pieces=True, character_coverage=0.9995,
        num_threads=1, max_sentence_length=1 << 16, minloglevel=2)
    os.remove(directory / "tokenizer.vocab")


def train_bytelevel(docs, directory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    directory.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=6144, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(docs, trainer)
    tok.save(str(directory / "tokenizer.json"), pretty=False)


if __name__ == "__main__":
    docs = documents()
    train_spm(docs, OUT / "target-spm")
    train_bytelevel(docs, OUT / "source-bpe")
    for p in sorted(OUT.rglob("tokenizer.*")):
        print(p.relative_to(ROOT), p.stat().st_size)

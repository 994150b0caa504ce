#!/usr/bin/env python3
"""Reference fixtures for the token alignment (Tests/FusionTests/AlignFixtureTests.swift).

An independent Python implementation of the rules in docs/alignment.md — FuseLLM's vocab_mapping.py (MinED / EM)
and others.py (dtw, transform_step_logits), FuseChat-2's token_alignment.py (mapping statistics, MS), with our token normalisation and our documented deviations — run
on small committed tokenizers and texts. Vocabularies come from HF `tokenizers` (tokenizer.json) or
`sentencepiece` (tokenizer.model); distances from `editdistance`. Nothing here imports or reads our Swift code.

Writes Tests/Fixtures/alignment/:
  vocab-<name>.json         per tokenizer: spelling, kinds, bos/eos, normalised units of every id
  pair-<src>--<tgt>.json    per pair: the MinED map (ids, distances; EM = the distance-0 entries), the MS map
                            (FuseChat-2's mapping statistics over the pair's texts), and per text:
                            both tokenizations (EOS appended), the DTW runs and cost, a synthetic top-k teacher
                            and the transformed rows for em and mined (one-hot on the next token; the
                            rows that the faithful placement moves to the current token are listed)

Needs: pip install tokenizers sentencepiece editdistance numpy. Deterministic (fixed seed, fixed inputs).
Run from anywhere: python3 scripts/make-alignment-fixtures.py
"""
import json
import random
import re
from pathlib import Path

import editdistance
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TOK = ROOT / "Tests/Fixtures/tokenizers"
OUT = ROOT / "Tests/Fixtures/alignment"

TOKENIZERS = {
    "bytelevel": TOK / "bytelevel/tokenizer.json",
    "spm": TOK / "spm/tokenizer.json",
    "metaspace": TOK / "metaspace/tokenizer.json",
    "llama3": TOK / "llama3/tokenizer.json",
    "target-spm": ROOT / "data/tokenizers/target-spm/tokenizer.model",
    "source-bpe": ROOT / "data/tokenizers/source-bpe/tokenizer.json",
}
PAIRS = [("bytelevel", "spm"), ("spm", "bytelevel"), ("metaspace", "llama3"), ("source-bpe", "target-spm")]
# Documents of Tests/Fixtures/tokenizers/corpus.jsonl: prose, code, Cyrillic, Chinese, emoji, accents, spaces.
DOCS = [0, 20, 59, 65, 92, 134, 155]
DOC_CHARS = 300
K = 4

SPACE = 0x20
RAW = 0x110000
REGULAR, BYTE, SPECIAL, UNUSED = 0, 1, 2, 3
BOS_NAMES = ["<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"]
EOS_NAMES = ["</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>"]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


BYTE_OF_CHAR = bytes_to_unicode()


def units_of_bytes(data):
    """Complete UTF-8 characters as code points, any other byte as RAW + byte."""
    out, i = [], 0
    while i < len(data):
        b = data[i]
        n = 1 if b < 0x80 else 2 if b >> 5 == 6 else 3 if b >> 4 == 14 else 4 if b >> 3 == 30 else 0
        if n and i + n <= len(data):
            try:
                out.append(ord(data[i:i + n].decode("utf-8")))
                i += n
                continue
            except UnicodeDecodeError:
                pass
        out.append(RAW + b)
        i += 1
    return out


class Vocab:
    def __init__(self, name, path):
        self.name = name
        if path.suffix == ".model":
            self._from_sentencepiece(path)
        else:
            self._from_tokenizer_json(path)
        self.units, self.kinds = [], []
        for i, token in enumerate(self.strings):
            if i in self.added:
                self.kinds.append(SPECIAL if self.added[i] else REGULAR)
                self.units.append([ord(c) for c in token])
            elif token is None:
                self.kinds.append(UNUSED)
                self.units.append([])
            elif self.byte_level:
                self.kinds.append(REGULAR)
                self.units.append(units_of_bytes(bytes(BYTE_OF_CHAR[c] for c in token)))
            elif re.fullmatch(r"<0x[0-9A-Fa-f]{2}>", token):
                b = int(token[3:5], 16)
                self.kinds.append(BYTE)
                self.units.append([b if b < 0x80 else RAW + b])
            else:
                self.kinds.append(REGULAR)
                self.units.append([SPACE if c == "\u2581" else ord(c) for c in token])

    def _from_tokenizer_json(self, path):
        from tokenizers import Tokenizer
        self.tok = Tokenizer.from_file(str(path))
        config = json.loads(path.read_text())

        def has_byte_level(node):
            if isinstance(node, dict):
                return node.get("type") == "ByteLevel" or any(has_byte_level(v) for v in node.values())
            if isinstance(node, list):
                return any(has_byte_level(v) for v in node)
            return False

        self.byte_level = has_byte_level(config.get("pre_tokenizer"))
        vocab = self.tok.get_vocab(with_added_tokens=True)
        size = max(vocab.values()) + 1
        self.strings = [None] * size
        for s, i in vocab.items():
            self.strings[i] = s
        self.added = {i: t.special for i, t in self.tok.get_added_tokens_decoder().items()}
        specials = {t.content: i for i, t in self.tok.get_added_tokens_decoder().items() if t.special}
        self.bos = next((specials[n] for n in BOS_NAMES if n in specials), None)
        self.eos = next((specials[n] for n in EOS_NAMES if n in specials), None)

    def _from_sentencepiece(self, path):
        import sentencepiece as spm
        self.sp = spm.SentencePieceProcessor(model_file=str(path))
        self.byte_level = False
        self.strings = [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())]
        self.added = {}
        for i in range(self.sp.get_piece_size()):
            if self.sp.is_control(i) or self.sp.is_unknown(i):
                self.added[i] = True
        # User-defined pieces are literal text; sentencepiece has no is_user_defined, the proto has the type.
        from sentencepiece import sentencepiece_model_pb2 as pb
        proto = pb.ModelProto()
        proto.ParseFromString(path.read_bytes())
        for i, p in enumerate(proto.pieces):
            if p.type == pb.ModelProto.SentencePiece.USER_DEFINED:
                self.added[i] = False
        self.bos = self.sp.bos_id() if self.sp.bos_id() >= 0 else None
        self.eos = self.sp.eos_id() if self.sp.eos_id() >= 0 else None

    def encode(self, text):
        ids = self.tok.encode(text, add_special_tokens=False).ids if hasattr(self, "tok") else self.sp.encode(text)
        return ids + ([self.eos] if self.eos is not None else [])

    def fixture(self):
        plain, raw = [], {}
        for i, u in enumerate(self.units):
            plain.append("".join(chr(x) if x < RAW else "\ufffd" for x in u))
            if any(x >= RAW for x in u):
                raw[str(i)] = u
        return {"name": self.name, "spelling": "byte-level" if self.byte_level else "characters",
                "bos": self.bos, "eos": self.eos, "kinds": "".join(str(k) for k in self.kinds),
                "units": plain, "raw_units": raw}


def base_map(src, tgt):
    """The rules every method shares: specials by role or content, regular/byte tokens by equal units. Returns the
    ids, distances and the source ids left for MinED / MS."""
    textual, special = {}, {}
    for i, (u, k) in enumerate(zip(tgt.units, tgt.kinds)):
        key = tuple(u)
        if k == REGULAR and (key not in textual or tgt.kinds[textual[key]] != REGULAR):
            textual[key] = i
        elif k == BYTE and key not in textual:
            textual[key] = i
        elif k == SPECIAL and key not in special:
            special[key] = i
    ids, distances, pending = [], [], []
    for i, (u, k) in enumerate(zip(src.units, src.kinds)):
        key = tuple(u)
        if k == UNUSED:
            ids.append(-1); distances.append(-1)
        elif k == SPECIAL:
            match = None
            if i == src.eos:
                match = tgt.eos
            if match is None and i == src.bos:
                match = tgt.bos
            if match is None:
                match = special.get(key)
            ids.append(-1 if match is None else match)
            distances.append(-1 if match is None else 0)
        elif key in textual:
            ids.append(textual[key]); distances.append(0)
        else:
            ids.append(-1); distances.append(-1); pending.append(i)
    return ids, distances, pending


def mined_map(src, tgt):
    """vocab_mapping.py's find_best_mapping with our normalisation; ties to the lowest target id (Python's min
    over the vocabulary in id order)."""
    ids, distances, pending = base_map(src, tgt)
    candidates = [(i, u) for i, (u, k) in enumerate(zip(tgt.units, tgt.kinds)) if k in (REGULAR, BYTE)]
    for i in pending:
        d, j = min((editdistance.eval(src.units[i], v), j) for j, v in candidates)
        ids[i] = j; distances[i] = d
    return ids, distances


def contains(haystack, needle):
    """Python's `needle in haystack` on strings, for lists of units."""
    n, m = len(haystack), len(needle)
    return any(haystack[k:k + m] == needle for k in range(n - m + 1))


def sigmoid(x):
    return 1. / (1 + np.exp(-x))


def ms_map(src, tgt, texts):
    """FuseChat-2's mapping statistics (token_alignment.py): count how often DTW pairs each target token with each
    source token over the texts ((source ids, target ids, runs) each), then map every source token without an exact
    match to the co-aligned target token with the smallest `editdistance(a, b) · w · sigmoid(count)` (a, b: units
    without spaces, both full when either is empty; w = 0.1 when one contains the other; np.argmin over ascending
    target ids). Our documented differences: only regular/byte target tokens are candidates, tokens never co-aligned
    stay unmapped (the reference sends them to the target's unk/eos), the distance kept is that of the full units."""
    ids, distances, pending = base_map(src, tgt)
    counts = np.zeros((len(src.units), len(tgt.units)))
    for sids, tids, runs in texts:
        for i, run in enumerate(runs):
            for j in run:
                counts[sids[j], tids[i]] += 1

    def dist_fn(a, b):
        aa = [u for u in a if u != SPACE]
        bb = [u for u in b if u != SPACE]
        if len(aa) == 0 or len(bb) == 0:
            aa, bb = a, b
        w = 1
        if contains(bb, aa) or contains(aa, bb):
            w = 0.1
        return editdistance.eval(aa, bb) * w

    for i in pending:
        row = counts[i]
        nonzero = [j for j in np.nonzero(row)[0] if tgt.kinds[j] in (REGULAR, BYTE)]
        if not nonzero:
            continue
        weighted = [dist_fn(src.units[i], tgt.units[j]) * sigmoid(row[j]) for j in nonzero]
        j = int(nonzero[int(np.argmin(weighted))])
        ids[i] = j
        distances[i] = max(1, editdistance.eval(src.units[i], tgt.units[j]))
    return ids, distances


def dtw(series_1, series_2, norm_func):
    """others.py's dtw (from simpledtw): series_1 = source tokens, series_2 = target tokens."""
    matrix = np.zeros((len(series_1) + 1, len(series_2) + 1))
    matrix[0, :] = np.inf
    matrix[:, 0] = np.inf
    matrix[0, 0] = 0
    for i, vec1 in enumerate(series_1):
        for j, vec2 in enumerate(series_2):
            cost = norm_func(vec1, vec2)
            matrix[i + 1, j + 1] = cost + min(matrix[i, j + 1], matrix[i + 1, j], matrix[i, j])
    matrix = matrix[1:, 1:]
    i, j = matrix.shape[0] - 1, matrix.shape[1] - 1
    mappings_2 = [[] for _ in range(matrix.shape[1])]
    while i > 0 or j > 0:
        mappings_2[j].append(i)
        option_diag = matrix[i - 1, j - 1] if i > 0 and j > 0 else np.inf
        option_up = matrix[i - 1, j] if i > 0 else np.inf
        option_left = matrix[i, j - 1] if j > 0 else np.inf
        move = np.argmin([option_diag, option_up, option_left])
        if move == 0:
            i -= 1; j -= 1
        elif move == 1:
            i -= 1
        else:
            j -= 1
    mappings_2[0].append(0)
    for mp in mappings_2:
        mp.reverse()
    return mappings_2, int(matrix[-1, -1])


def transform(src, tgt, src_ids, tgt_ids, base_to_blending, top_ids, top_lps, mapping, placement):
    """transform_step_logits with our token match, dedup and one-hot placement (docs/alignment.md)."""
    rows = []
    for i, blending_idx in enumerate(base_to_blending):
        ids, entries = [], []  # entries: the teacher entry each id's logit comes from, -1 for a one-hot (logit 0)
        matched = False
        if len(blending_idx) == 1:
            j = blending_idx[0]
            a, b = src.units[src_ids[j]], tgt.units[tgt_ids[i]]
            if i == 0:
                a = a[1:] if a[:1] == [SPACE] else a
                b = b[1:] if b[:1] == [SPACE] else b
            matched = mapping[src_ids[j]] == tgt_ids[i] or a == b
        if matched:
            for e, sid in enumerate(top_ids[j]):
                t = mapping[sid]
                if t >= 0 and t not in ids:
                    ids.append(t); entries.append(e)
        elif placement == "current":
            ids, entries = [tgt_ids[i]], [-1]
        elif i + 1 < len(tgt_ids):
            ids, entries = [tgt_ids[i + 1]], [-1]
        rows.append([ids, entries])
    return rows


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    vocabs = {name: Vocab(name, path) for name, path in TOKENIZERS.items()}
    for name, v in vocabs.items():
        (OUT / f"vocab-{name}.json").write_text(json.dumps(v.fixture(), ensure_ascii=False, separators=(",", ":")) + "\n")
    corpus = [json.loads(line) for line in (TOK / "corpus.jsonl").read_text().split("\n") if line]
    texts = [corpus[d][:DOC_CHARS] for d in DOCS]
    rng = random.Random(1234)
    for s, t in PAIRS:
        src, tgt = vocabs[s], vocabs[t]
        ids, distances = mined_map(src, tgt)
        em = [i if d == 0 else -1 for i, d in zip(ids, distances)]

        def cost(a, b):
            return editdistance.eval([u for u in src.units[a] if u != SPACE], [u for u in tgt.units[b] if u != SPACE])

        docs, all_runs = [], []
        for text in texts:
            sids, tids = src.encode(text), tgt.encode(text)
            runs, total = dtw(sids, tids, cost)
            all_runs.append(runs)
            # A synthetic teacher: per source position the true next token (when there is one) and random ids,
            # with descending log-probabilities rounded to 3 decimals (exact in JSON and in Float).
            top_ids, top_lps = [], []
            for p in range(len(sids)):
                row = [sids[p + 1]] if p + 1 < len(sids) else []
                while len(row) < K:
                    x = rng.randrange(len(src.units))
                    if x not in row and src.kinds[x] != UNUSED:
                        row.append(x)
                rng.shuffle(row)
                top_ids.append(row)
                top_lps.append(sorted((round(-rng.uniform(0.05, 9), 3) for _ in range(K)), reverse=True))
            out = {}
            for method, mapping in (("em", em), ("mined", ids)):
                rows = transform(src, tgt, sids, tids, runs, top_ids, top_lps, mapping, "next")
                current = transform(src, tgt, sids, tids, runs, top_ids, top_lps, mapping, "current")
                # With the faithful placement only the one-hot rows change (to the row's own token): list them.
                onehot = [i for i, r in enumerate(current) if r[1] == [-1]]
                assert all(rows[i] == current[i] for i in range(len(rows)) if i not in onehot)
                out[method] = {"rows": rows, "current_onehot": onehot}
            docs.append({"text": text, "source_ids": sids, "target_ids": tids,
                         "runs": [[r[0], r[-1] + 1] for r in runs], "cost": total,
                         "top_ids": top_ids, "top_logprobs": top_lps, "rows": out})
        ms_ids, ms_distances = ms_map(src, tgt, [(d["source_ids"], d["target_ids"], runs)
                                                 for d, runs in zip(docs, all_runs)])
        pair = {"source": s, "target": t, "k": K, "map_ids": ids, "map_distances": distances,
                "ms_ids": ms_ids, "ms_distances": ms_distances, "texts": docs}
        (OUT / f"pair-{s}--{t}.json").write_text(json.dumps(pair, ensure_ascii=False, separators=(",", ":")) + "\n")
        print(f"{s} -> {t}: exact {sum(d == 0 for d in distances)}, mined {sum(d > 0 for d in distances)}, "
              f"unmapped {sum(d < 0 for d in distances)}; ms: by statistics {sum(d > 0 for d in ms_distances)}")


if __name__ == "__main__":
    main()

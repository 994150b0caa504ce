#!/usr/bin/env python3
"""Builds data/sample/minipile/: a small corpus laid out like MiniPile on the Hugging Face hub
(parquet shards with a `text` column, snappy-compressed, train / validation / test splits) made of
real public text found in Debian packages, in several domains and languages.

Domains (the `domain` column; MiniPile itself has only `text`):
  bible-kjv             prose: the King James Bible, chapters grouped into documents (bible-kjv)
  gcide                 dictionary: runs of consecutive GCIDE entries (dict-gcide)
  python-stdlib         code: whole modules of the Python 3.11 standard library (libpython3.11-stdlib,
                        libpython3.11-minimal)
  debian-handbook.en    technical documentation: sections of The Debian Administrator's Handbook
  debian-handbook.LANG  the same handbook in French, German, Spanish, Japanese, Russian and Chinese
                        (each language gets different sections, so no text appears twice)

Documents are a few hundred to a few thousand words (longer sections are cut at paragraph
boundaries). Every choice is made with fixed seeds over sorted inputs, so a re-run on the same
package versions rebuilds the same files byte for byte. The package versions used are written to
data/sample/minipile/README.md.

Needs: apt-get install bible-kjv dict-gcide debian-handbook (python3.11's standard library is part of
Debian's python3.11); pip install pyarrow
"""
import gzip
import html.parser
import json
import pathlib
import random
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "sample" / "minipile"

PACKAGES = {
    "bible-kjv": ["bible-kjv", "bible-kjv-text"],
    "gcide": ["dict-gcide"],
    "python-stdlib": ["libpython3.11-stdlib", "libpython3.11-minimal"],
    "debian-handbook": ["debian-handbook"],
}
HANDBOOK = pathlib.Path("/usr/share/doc/debian-handbook/html")
GCIDE = pathlib.Path("/usr/share/dictd")
PYLIB = pathlib.Path("/usr/lib/python3.11")

# Raw UTF-8 bytes of text per domain (about 5 MB in all, ~3 MB as snappy parquet).
BUDGET = {
    "bible-kjv": 1_000_000,
    "gcide": 800_000,
    "python-stdlib": 1_200_000,
    "debian-handbook.en": 900_000,
    "debian-handbook.fr": 330_000,
    "debian-handbook.de": 330_000,
    "debian-handbook.es": 300_000,
    "debian-handbook.ja": 300_000,
    "debian-handbook.ru": 300_000,
    "debian-handbook.zh": 250_000,
}
HANDBOOK_LANGS = {"en": "en-US", "fr": "fr-FR", "de": "de-DE", "es": "es-ES", "ja": "ja-JP", "ru": "ru-RU",
                  "zh": "zh-CN"}
MIN_WORDS, TARGET_WORDS, MAX_WORDS = 300, 1500, 3500


def words(text):
    # CJK text has no spaces: count its characters as words (roughly how MiniPile-sized CJK reads).
    return len(text.split()) + sum(1 for c in text if "\u3040" <= c <= "\u9fff")


def check_packages():
    missing = []
    for pkgs in PACKAGES.values():
        for p in pkgs:
            r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True)
            if "install ok installed" not in r.stdout:
                missing.append(p)
    if missing:
        sys.exit("make-sample-corpus: missing Debian packages: " + " ".join(missing)
                 + "\n  install them with: apt-get install " + " ".join(missing))
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        sys.exit("make-sample-corpus: needs pyarrow (pip install pyarrow)")


def package_versions():
    out = {}
    for pkgs in PACKAGES.values():
        for p in pkgs:
            r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", p], capture_output=True, text=True)
            out[p] = r.stdout.strip()
    return out


def split_paragraphs(text, max_words=MAX_WORDS, target=TARGET_WORDS):
    """Cuts a long text at blank lines into pieces of about `target` words."""
    if words(text) <= max_words:
        return [text]
    pieces, cur, n = [], [], 0
    for para in text.split("\n\n"):
        w = words(para)
        if cur and n + w > target:
            pieces.append("\n\n".join(cur))
            cur, n = [], 0
        cur.append(para)
        n += w
    if cur:
        if pieces and n < MIN_WORDS:
            pieces[-1] += "\n\n" + "\n\n".join(cur)
        else:
            pieces.append("\n\n".join(cur))
    return pieces


def take(docs, budget, seed):
    """A fixed-seed random choice of documents until `budget` bytes, in their original order."""
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    chosen, total = [], 0
    for i in order:
        if total >= budget:
            break
        chosen.append(i)
        total += len(docs[i].encode())
    return [docs[i] for i in sorted(chosen)]


# --- King James Bible (bible-kjv) -------------------------------------------------------------

BOOKS = ["Gen", "Exod", "Ruth", "Esth", "Job", "Ps", "Prov", "Eccl", "Isa", "Jonah", "Matt", "Mark", "Luke",
         "John", "Acts", "Rom", "1Cor", "Jas", "Rev"]


def bible_chapter(book, n):
    # "Gen2" alone is verse 2:1; a verse range covers the chapter.
    r = subprocess.run(["bible", "-l10000", f"{book}{n}:1-{book}{n}:300"], capture_output=True, text=True,
                       check=True)
    text = r.stdout.strip("\n")
    heading = text.split("\n", 1)[0].strip()
    verses = [re.sub(r"^\s*\d+\s+", "", line).strip() for line in text.split("\n")[1:] if line.strip()]
    return heading, verses


def bible_docs():
    docs = []
    for book in BOOKS:
        chapters, seen, n = [], set(), 1
        while True:
            heading, verses = bible_chapter(book, n)
            if heading in seen or not verses:
                break  # past the last chapter the program repeats it
            seen.add(heading)
            chapters.append(heading + "\n\n" + " ".join(verses))
            n += 1
        cur, w = [], 0
        for ch in chapters:
            cur.append(ch)
            w += words(ch)
            if w >= TARGET_WORDS:
                docs.append("\n\n".join(cur))
                cur, w = [], 0
        if cur:
            docs.append("\n\n".join(cur))
    return docs


# --- GCIDE (dict-gcide) -----------------------------------------------------------------------

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64(s):
    v = 0
    for c in s:
        v = v * 64 + B64.index(c)
    return v


def gcide_docs():
    data = gzip.open(GCIDE / "gcide.dict.dz").read()
    entries = []
    seen = set()
    for line in (GCIDE / "gcide.index").read_text(encoding="utf-8").splitlines():
        head, off, size = line.split("\t")
        if head.startswith("00-") or not head[:1].isalpha():
            continue
        off, size = b64(off), b64(size)
        if off in seen:
            continue
        seen.add(off)
        try:
            entries.append(data[off:off + size].decode("utf-8", errors="strict").strip())
        except UnicodeDecodeError:
            continue  # a few entries hold stray Windows-1252 bytes: left out
    rng = random.Random(1913)
    docs = []
    starts = sorted(rng.sample(range(len(entries) - 500), 200))
    last_end = -1
    for s in starts:
        if s <= last_end:
            continue
        cur, w, k = [], 0, s
        while w < 800 and k < len(entries):
            cur.append(entries[k])
            w += words(entries[k])
            k += 1
        last_end = k
        text = "\n\n".join(cur)
        docs.extend(split_paragraphs(text))
    return docs


# --- Python standard library ------------------------------------------------------------------

def python_docs():
    files = []
    for p in sorted(PYLIB.rglob("*.py")):
        rel = p.relative_to(PYLIB)
        parts = rel.parts
        if any(x in ("test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", "encodings")
               for x in parts):
            continue
        if parts[0].startswith("config-"):
            continue
        size = p.stat().st_size
        if 3_000 <= size <= 40_000:
            files.append(p)
    return [p.read_text(encoding="utf-8") for p in files]


# --- The Debian Administrator's Handbook (HTML to text) -------------------------------------

BLOCK = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "tr", "br", "dt", "dd", "table", "ul",
         "ol", "dl", "blockquote"}


class HandbookText(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skip, self.pre = [], 0, 0
        self.stack = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        skipping = tag in ("script", "style", "head") or a.get("id") in ("banner", "title") \
            or "docnav" in (a.get("class") or "") or (a.get("class") or "") in ("toc", "breadcrumbs")
        if tag not in ("br", "img", "meta", "link", "hr", "col", "area", "input"):
            self.stack.append((tag, skipping))
            if skipping:
                self.skip += 1
            if tag == "pre":
                self.pre += 1
        if tag in BLOCK and not self.skip:
            self.out.append("\n\n" if tag not in ("li", "tr", "br", "dt", "dd") else "\n")

    def handle_endtag(self, tag):
        while self.stack:
            t, skipping = self.stack.pop()
            if skipping:
                self.skip -= 1
            if t == "pre":
                self.pre -= 1
            if t == tag:
                break
        if tag in BLOCK and not self.skip:
            self.out.append("\n\n" if tag not in ("li", "tr", "dt", "dd") else "\n")

    def handle_data(self, data):
        if self.skip:
            return
        if self.pre:
            self.out.append(data.replace("\t", "    "))
        else:
            self.out.append(re.sub(r"\s+", " ", data))

    def text(self):
        s = "".join(self.out)
        lines = [line.rstrip() for line in s.split("\n")]
        s = "\n".join(lines)
        s = re.sub(r"\n[ \t]+(?=\S)", lambda m: "\n" if not m.group(0).startswith("\n    ") else m.group(0), s)
        s = re.sub(r"\n{3,}", "\n\n", s)
        paras = s.strip().split("\n\n")
        if len(paras) > 1 and paras[0] == paras[1]:
            paras = paras[1:]  # the page title repeats the section heading
        return "\n\n".join(paras)


def handbook_text(path):
    parser = HandbookText()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser.text()


def handbook_docs():
    names = sorted(p.name for p in (HANDBOOK / "en-US").glob("*.html") if p.name != "index.html")
    # Each section goes to one language only (a fixed-seed deal), so no content repeats across languages.
    rng = random.Random(2021)
    dealt = names[:]
    rng.shuffle(dealt)
    langs = list(HANDBOOK_LANGS)
    weights = {"en": 5, "fr": 2, "de": 2, "es": 2, "ja": 2, "ru": 2, "zh": 2}
    wheel = [lang for lang in langs for _ in range(weights[lang])]
    by_lang = {lang: [] for lang in langs}
    for k, name in enumerate(dealt):
        by_lang[wheel[k % len(wheel)]].append(name)
    out = {}
    for lang, names_for in by_lang.items():
        docs = []
        for name in sorted(names_for):
            path = HANDBOOK / HANDBOOK_LANGS[lang] / name
            if not path.exists():
                continue
            text = handbook_text(path)
            if words(text) < MIN_WORDS:
                continue
            docs.extend(d for d in split_paragraphs(text) if words(d) >= MIN_WORDS // 2)
        out[f"debian-handbook.{lang}"] = docs
    return out


def main():
    check_packages()
    import pyarrow as pa
    import pyarrow.parquet as pq

    domains = {
        "bible-kjv": bible_docs(),
        "gcide": gcide_docs(),
        "python-stdlib": python_docs(),
    }
    domains.update(handbook_docs())
    rows = []
    for name in sorted(domains):
        chosen = take(domains[name], BUDGET[name], seed=hash_seed(name))
        rows.extend((name, t) for t in chosen)
    random.Random(20240116).shuffle(rows)  # MiniPile's rows are shuffled across domains
    n = len(rows)
    n_val, n_test = max(1, n * 4 // 100), max(1, n * 8 // 100)
    splits = {
        "validation": rows[:n_val],
        "test": rows[n_val:n_val + n_test],
        "train": rows[n_val + n_test:],
    }
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    shards = {"train": 2, "validation": 1, "test": 1}
    summary = {}
    for split, items in splits.items():
        k = shards[split]
        for s in range(k):
            part = items[s::k] if k > 1 else items
            table = pa.table({"text": pa.array([t for _, t in part], pa.string()),
                              "domain": pa.array([d for d, _ in part], pa.string())})
            name = f"{split}-{s:05d}-of-{k:05d}.parquet"
            pq.write_table(table, OUT / name, compression="snappy", row_group_size=100)
            summary[name] = {"rows": len(part), "bytes": (OUT / name).stat().st_size}
    stats = {}
    for d, t in rows:
        s = stats.setdefault(d, {"documents": 0, "text_bytes": 0, "words": 0})
        s["documents"] += 1
        s["text_bytes"] += len(t.encode())
        s["words"] += words(t)
    write_card(package_versions(), summary, stats)
    total = sum(v["bytes"] for v in summary.values())
    print(f"wrote {len(rows)} documents in {len(summary)} files, {total / 1e6:.2f} MB, under {OUT}")
    for d in sorted(stats):
        s = stats[d]
        print(f"  {d:22s} {s['documents']:4d} docs {s['text_bytes'] / 1e3:7.0f} KB  "
              f"{s['words'] // max(1, s['documents']):5d} words/doc")


def write_card(packages, files, stats):
    """README.md beside the shards (as on the hub): what is in each file and where it came from.
    Markdown, not JSON, so a corpus reader walking the directory does not take it for JSON lines."""
    lines = ["# MiniPile-layout sample", "",
             "Written by `scripts/make-sample-corpus.py`; see `data/sample/README.md` for sources and licences.",
             "Columns: `text` (the document), `domain` (where it came from).", "",
             "| file | rows | bytes |", "|---|---|---|"]
    for name in sorted(files):
        lines.append(f"| {name} | {files[name]['rows']} | {files[name]['bytes']} |")
    lines += ["", "| domain | documents | text bytes | words |", "|---|---|---|---|"]
    for d in sorted(stats):
        s = stats[d]
        lines.append(f"| {d} | {s['documents']} | {s['text_bytes']} | {s['words']} |")
    lines += ["", "| Debian package | version |", "|---|---|"]
    for p in sorted(packages):
        lines.append(f"| {p} | {packages[p]} |")
    (OUT / "README.md").write_text("\n".join(lines) + "\n")


def hash_seed(name):
    # A stable seed per domain (Python's hash() is salted per process).
    return sum((k + 1) * b for k, b in enumerate(name.encode()))


if __name__ == "__main__":
    main()

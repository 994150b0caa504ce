#!/usr/bin/env bash
# Every benchmark in one table: fusellm against the Python reference measured in the same invocation, on this
# machine, with the same threads. Run it on a quiet machine (nothing else busy); numbers go to docs/performance.md.
#
#   bash scripts/bench.sh            # ~9 minutes a round on 2 cores; installs the Python references with pip if missing
#   THREADS=2 JSON_DIR=/tmp/b bash scripts/bench.sh   # JSON_DIR: keep (and reuse) each benchmark's JSON
#   ROUNDS=3 bash scripts/bench.sh   # run everything 3 times; report medians and the median of the per-round ratios
#                                    # with their range (a shared machine's slow spells hit one side of a pair)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
bash scripts/fetch-models.sh >/dev/null
swift build -c release --product fusellm >&2
bin=.build/release/fusellm
threads=${THREADS:-$(nproc)}
out=${JSON_DIR:-$(mktemp -d /tmp/fusellm-bench.XXXXXX)}
rounds=${ROUNDS:-1}
mkdir -p "$out"
if ! python3 -c "import torch, transformers, tokenizers, sentencepiece, gguf, accelerate, editdistance" 2>/dev/null; then
  echo "installing the Python references (torch CPU, transformers, tokenizers, …)" >&2
  pip install -q "torch==2.13.0+cpu" transformers tokenizers sentencepiece safetensors gguf accelerate protobuf editdistance >&2
fi
run() {  # name, then the bench arguments (a benchmark whose JSON is already in JSON_DIR is not run again)
  local name=$1; shift
  [ -s "$dir/$name.json" ] && return
  echo "bench $name (round $round of $rounds): $*" >&2
  local threads_flag=(--threads "$threads")
  [ "$1" = tokenize ] && threads_flag=()   # one thread by design
  $bin bench "$@" "${threads_flag[@]}" --json > "$dir/$name.json.tmp" && mv "$dir/$name.json.tmp" "$dir/$name.json"
}
# Enough timed steps that the median step (both sides report it) sits outside a few seconds' slow spell.
gemma=checkpoints/gemma-3-270m-q4_k_m.gguf
smol=(--vocab 49152 --hidden 576 --intermediate 1536 --layers 30 --heads 9 --kv-heads 3 --seq 256 --batch 1 --steps 5 --warmup 1)
for round in $(seq 1 "$rounds"); do
  dir="$out/round-$round"
  mkdir -p "$dir"
  run train train --torch --steps 20 --warmup 3
  run train-bf16 train --precision bf16 --steps 20 --warmup 3
  run train-smollm2 train --torch "${smol[@]}"
  run train-smollm2-bf16 train --precision bf16 "${smol[@]}"
  run infer-512 infer --torch --llama-cpp --seq 512
  run infer-2048 infer --torch --llama-cpp --seq 2048 --repeats 2
  run gemma3-infer-512 infer --torch --llama-cpp --model "$gemma" --seq 512 --repeats 3
  run gemma3-infer-2048 infer --torch --llama-cpp --model "$gemma" --seq 2048 --repeats 2
  run infer-512-bf16 infer --precision bf16 --seq 512
  run gemma3-infer-512-bf16 infer --precision bf16 --model "$gemma" --seq 512 --repeats 3
  run tokenize tokenize --hf
  run dump dump
  run gemma3-dump dump --model "$gemma"
  run dump-bf16 dump --precision bf16
  run gemma3-dump-bf16 dump --precision bf16 --model "$gemma"
  run align align
done
python3 - "$out" <<'PY'
import json, os, statistics, sys
d = sys.argv[1]
rounds = sorted(r for r in os.listdir(d) if r.startswith("round-"))
# Over rounds: the median of every number, and the median of the per-round ratios (each round times fusellm and
# its reference back to back, so a round's ratio is the paired measurement; the range shows the machine's noise).
def load(name):
    runs = []
    for r in rounds:
        path = os.path.join(d, r, name + ".json")
        if os.path.exists(path):
            with open(path) as f: runs.append(json.load(f))
    merged = dict(runs[0])
    for k in runs[0]:
        values = [j[k] for j in runs if isinstance(j.get(k), float)]  # measurements; integers are settings
        if values: merged[k] = statistics.median(values)
    merged["runs"] = runs
    return merged
def paired(ours_rec, ours, ref_rec, ref):
    """Per-round ratio of a number in one benchmark to one in another (bf16 against fp32 or PyTorch of the same round)."""
    rs = [a[ours] / b[ref] for a, b in zip(ours_rec["runs"], ref_rec["runs"]) if a.get(ours) and b.get(ref)]
    if not rs: return "–"
    spread = f" ({min(rs):.2f}–{max(rs):.2f})" if len(rs) > 1 else ""
    return f"{statistics.median(rs):.2f}×{spread}"
def ratio(rec, ours, ref, reference_is_time=False):
    rs = [(j[ref] / j[ours] if reference_is_time else j[ours] / j[ref]) for j in rec["runs"] if j.get(ours) and j.get(ref)]
    if not rs: return "–"
    spread = f" ({min(rs):.2f}–{max(rs):.2f})" if len(rs) > 1 else ""
    return f"{statistics.median(rs):.2f}×{spread}"
rows = []
t = load("train")
rows.append(("train step, 7M Llama (4×256 tokens)", f"{t['tokens_per_s']:.0f} tok/s", f"{t.get('torch_tokens_per_s', 0):.0f} tok/s (PyTorch eager)", ratio(t, 'tokens_per_s', 'torch_tokens_per_s')))
if t.get("torch_sdpa_tokens_per_s"):
    rows.append(("", "", f"{t['torch_sdpa_tokens_per_s']:.0f} tok/s (PyTorch sdpa)", ratio(t, 'tokens_per_s', 'torch_sdpa_tokens_per_s')))
rows.append(("  model FLOPs utilisation", f"{100 * t['mfu']:.1f}% of {t['sgemm_peak_gflops']:.0f} GFLOP/s SGEMM", "", ""))
def bf16_rows(label, bf, fp):
    rows.append((f"  {label} --precision bf16", f"{bf['tokens_per_s']:.0f} tok/s", f"{fp['tokens_per_s']:.0f} tok/s (fusellm fp32)", paired(bf, 'tokens_per_s', fp, 'tokens_per_s')))
    if fp.get("torch_bf16_sdpa_tokens_per_s"):
        rows.append(("", "", f"{fp['torch_bf16_sdpa_tokens_per_s']:.0f} tok/s (PyTorch bf16 autocast + sdpa)", paired(bf, 'tokens_per_s', fp, 'torch_bf16_sdpa_tokens_per_s')))
bf16_rows("train 7M", load("train-bf16"), t)
rows.append(("  peak memory", f"{t['peak_rss_mb']:.0f} MB", f"lower bound {t['state_lower_bound_mb']:.0f} MB", f"+{t['peak_rss_mb'] - t['state_lower_bound_mb']:.0f} MB"))
s = load("train-smollm2")
rows.append(("train step, SmolLM2-135M shape (1×256)", f"{s['tokens_per_s']:.0f} tok/s", f"{s.get('torch_tokens_per_s', 0):.0f} tok/s (PyTorch eager)", ratio(s, 'tokens_per_s', 'torch_tokens_per_s')))
if s.get("torch_sdpa_tokens_per_s"):
    rows.append(("", "", f"{s['torch_sdpa_tokens_per_s']:.0f} tok/s (PyTorch sdpa)", ratio(s, 'tokens_per_s', 'torch_sdpa_tokens_per_s')))
rows.append(("  model FLOPs utilisation", f"{100 * s['mfu']:.1f}%", "", ""))
bf16_rows("train SmolLM2 shape", load("train-smollm2-bf16"), s)
rows.append(("  peak memory", f"{s['peak_rss_mb']:.0f} MB", f"lower bound {s['state_lower_bound_mb']:.0f} MB", f"+{s['peak_rss_mb'] - s['state_lower_bound_mb']:.0f} MB"))
for label, name in [("SmolLM2", "infer-512"), ("SmolLM2", "infer-2048"), ("Gemma 3 270M", "gemma3-infer-512"), ("Gemma 3 270M", "gemma3-infer-2048")]:
    i = load(name)
    rows.append((f"{label} forward, {i['seq']} tokens", f"{i['tokens_per_s']:.0f} tok/s", f"{i.get('torch_tokens_per_s', 0):.0f} tok/s (transformers)", ratio(i, 'tokens_per_s', 'torch_tokens_per_s')))
    if i.get("llamacpp_tokens_per_s"):
        rows.append(("", "", f"{i['llamacpp_tokens_per_s']:.0f} tok/s (llama.cpp, all logits)", ratio(i, 'tokens_per_s', 'llamacpp_tokens_per_s')))
    if i["seq"] == 512:
        b = load(name + "-bf16")
        rows.append(("  --precision bf16", f"{b['tokens_per_s']:.0f} tok/s", f"{i['tokens_per_s']:.0f} tok/s (fusellm fp32)", paired(b, 'tokens_per_s', i, 'tokens_per_s')))
k = load("tokenize")
rows.append(("encode, SmolLM2 tokenizer (1 thread)", f"{k['mb_per_s']:.1f} MB/s", f"{k.get('hf_mb_per_s', 0):.1f} MB/s (HF tokenizers)", ratio(k, 'mb_per_s', 'hf_mb_per_s')))
u = load("dump")
rows.append(("dump SmolLM2 (forward + top-k + ce)", f"{u['compute_tokens_per_s']:.0f} tok/s", f"{u.get('torch_tokens_per_s', 0):.0f} tok/s (transformers)", ratio(u, 'compute_tokens_per_s', 'torch_tokens_per_s')))
for e in u["encodings"]:
    rows.append((f"  dump bytes/token, {e['encoding']}", f"{e['bytes_per_token']:.1f}", f"max |Δ log p| {e['max_logprob_error']:.1e}", ""))
b = load("dump-bf16")
rows.append(("  --precision bf16", f"{b['compute_tokens_per_s']:.0f} tok/s", f"{u['compute_tokens_per_s']:.0f} tok/s (fusellm fp32)", paired(b, 'compute_tokens_per_s', u, 'compute_tokens_per_s')))
g = load("gemma3-dump")
rows.append(("dump Gemma 3 270M (forward + top-k + ce)", f"{g['compute_tokens_per_s']:.0f} tok/s", f"{g.get('torch_tokens_per_s', 0):.0f} tok/s (transformers)", ratio(g, 'compute_tokens_per_s', 'torch_tokens_per_s')))
b = load("gemma3-dump-bf16")
rows.append(("  --precision bf16", f"{b['compute_tokens_per_s']:.0f} tok/s", f"{g['compute_tokens_per_s']:.0f} tok/s (fusellm fp32)", paired(b, 'compute_tokens_per_s', g, 'compute_tokens_per_s')))
if g.get("max_logprob_diff_vs_torch") is not None:
    rows.append(("  max |Δ log p| vs transformers", f"{g['max_logprob_diff_vs_torch']:.1e}", "", ""))
a = load("align")
py = a.get("python_mined_seconds_estimated")
rows.append((f"MinED map {a['source_size']}→{a['target_size']}", f"{a['mined_seconds']:.2f} s", f"{py:.0f} s (Python editdistance, est.)" if py else "–", ratio(a, 'mined_seconds', 'python_mined_seconds_estimated', True)))
pd = a.get("python_dtw_seconds_estimated")
rows.append((f"DTW {a['dtw_source_tokens']}×{a['dtw_target_tokens']} tokens", f"{a['dtw_seconds']:.3f} s", f"{pd:.1f} s (Python, est.)" if pd else "–", ratio(a, 'dtw_seconds', 'python_dtw_seconds_estimated', True)))
w = [max(len(r[i]) for r in rows) for i in range(4)]
head = ("benchmark", "fusellm", "reference (same invocation)", "ratio")
w = [max(a, len(b)) for a, b in zip(w, head)]
print(" | ".join(h.ljust(n) for h, n in zip(head, w)))
print("-|-".join("-" * n for n in w))
for r in rows: print(" | ".join(c.ljust(n) for c, n in zip(r, w)))
print(f"\n(median of {len(rounds)} round(s); ratio: median of the per-round ratios (range); JSON: {d}/round-*)")
PY

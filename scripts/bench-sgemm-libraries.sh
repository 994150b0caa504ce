#!/usr/bin/env bash
# Issue 16, item 4: does BLIS's or oneDNN's SGEMM beat OpenBLAS's on the training shapes? Builds
# scripts/lib/sgemm-probe.c against each (apt: libopenblas-dev, libblis-dev, libdnnl-dev) and prints GFLOP/s per
# shape with 1 and THREADS threads (each library's own threading), best of 3 rounds. Run on a quiet machine.
#
#   bash scripts/bench-sgemm-libraries.sh          # ~2 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-$(nproc)}
missing=()
for p in libopenblas-dev libblis-dev libdnnl-dev; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $sudo_ apt-get install -y -q "${missing[@]}" >/dev/null
fi
dir=$(mktemp -d /tmp/fusellm-sgemm.XXXXXX)
cc -O2 -o "$dir/openblas" scripts/lib/sgemm-probe.c -lopenblas
# BLIS exports the CBLAS interface too (same prototypes as OpenBLAS's cblas.h).
blis=$(readlink -f /usr/lib/*/libblis.so)
cc -O2 -o "$dir/blis" scripts/lib/sgemm-probe.c "$blis" -lm -lpthread
cc -O2 -DUSE_DNNL -o "$dir/onednn" scripts/lib/sgemm-probe.c -ldnnl
for t in 1 "$threads"; do
  for lib in openblas blis onednn; do
    OPENBLAS_NUM_THREADS=$t BLIS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$dir/$lib" | sed "s/^{/{\"library\": \"$lib\", \"threads\": $t, /"
  done
done > "$dir/results.jsonl"
python3 - "$dir/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
shapes = list(dict.fromkeys(r["shape"] for r in rows))
for t in sorted({r["threads"] for r in rows}):
    print(f"\n{t} thread(s), GFLOP/s")
    print(f"{'shape':24} {'OpenBLAS':>9} {'BLIS':>9} {'oneDNN':>9}")
    for s in shapes:
        v = {r["library"]: r["gflops"] for r in rows if r["shape"] == s and r["threads"] == t}
        print(f"{s:24} {v.get('openblas', 0):9.1f} {v.get('blis', 0):9.1f} {v.get('onednn', 0):9.1f}")
PY

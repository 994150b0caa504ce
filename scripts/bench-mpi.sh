#!/usr/bin/env bash
# Data-parallel scaling on this machine (docs/distributed.md): SmolLM2-135M (f32) trained on blocks of 512 tokens
# with the same global batch of 2 blocks per step, three ways, in the same invocation and alternating round by round:
#   1 process, 1 thread, --grad-accum 2     (the baseline the ranks must equal)
#   1 process, 2 threads, --grad-accum 2    (what one machine does without MPI: the strongest reference here)
#   mpirun -np 2, 1 thread each, --grad-accum 1
# Per run: median step time (first step dropped: workspace allocation), tokens/s, and for the ranks the gradient
# allreduce time per step. Writes $OUT/bench-mpi.jsonl and prints a table of medians and ranges over rounds.
#
#   bash scripts/bench-mpi.sh                  # ROUNDS=3 STEPS=5, about 10 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-checkpoints/bench-mpi}
rounds=${ROUNDS:-3}
steps=${STEPS:-5}
source scripts/lib/pipeline.sh
bash scripts/setup.sh --mpi
set_up_and_build
target=$out/smollm2-f32
[ -f "$target/config.json" ] || $bin convert --model "$smol" --output "$target" >/dev/null
data=data/sample/minipile/validation-00000-of-00001.parquet
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
results=$out/bench-mpi.jsonl
: > "$results"

run() {  # label ranks threads grad-accum
  local dir=$out/runs/$1 launch=()
  rm -rf "$dir"; mkdir -p "$out/runs"
  [ "$2" -gt 1 ] && launch=(mpirun -np "$2" --oversubscribe --bind-to none)
  "${launch[@]}" $bin train --init-from "$target" --data "$data" --steps "$steps" --batch-size 1 --block-size 512 \
    --grad-accum "$4" --threads "$3" --lr 1e-5 --eval-fraction 0 --checkpoint-every 100000 --output "$dir" >/dev/null 2>"$dir.log" \
    || { echo "bench-mpi: $1 failed:"; tail -5 "$dir.log"; exit 1; } >&2
  python3 - "$dir/metrics.jsonl" "$1" "$2" "$3" >> "$results" <<'PY'
import json, statistics, sys
path, label, ranks, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lines = [json.loads(l) for l in open(path)]
# Step time: the difference of elapsed_s between consecutive lines (the ranks also log it as step_s).
times = [b["elapsed_s"] - a["elapsed_s"] for a, b in zip(lines, lines[1:])]
step = statistics.median(times)
tokens = lines[-1]["tokens"] // lines[-1]["step"]
reduce = [l["allreduce_s"] for l in lines[1:] if "allreduce_s" in l]
print(json.dumps({"run": label, "ranks": ranks, "threads": threads, "step_s": step, "tokens_per_s": tokens / step,
                  "allreduce_s": statistics.median(reduce) if reduce else 0.0, "losses": [l["loss"] for l in lines]}))
PY
}

for r in $(seq 1 "$rounds"); do
  say "round $r of $rounds"
  run "1-rank-1-thread" 1 1 2
  run "1-rank-2-threads" 1 2 2
  run "2-ranks-1-thread" 2 1 1
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
runs = {}
for r in rows: runs.setdefault(r["run"], []).append(r)
base = statistics.median(r["step_s"] for r in runs["1-rank-1-thread"])
print("| run | step s (median, range) | tokens/s | speed-up vs 1 rank × 1 thread | allreduce s/step | same losses as 1 rank |")
print("|---|---|---|---|---|---|")
ref = runs["1-rank-1-thread"][0]["losses"]
for name, rs in runs.items():
    s = [r["step_s"] for r in rs]
    m = statistics.median(s)
    same = all(r["losses"] == ref for r in rs)
    print(f"| {name} | {m:.2f} ({min(s):.2f}–{max(s):.2f}) | {statistics.median(r['tokens_per_s'] for r in rs):.0f} | "
          f"{base / m:.2f}× | {statistics.median(r['allreduce_s'] for r in rs):.3f} | {'yes' if same else 'no'} |")
PY

#!/usr/bin/env bash
# Kill -9 at random moments of `train`, `dump` and `ablate`, restart, repeat; then check that
#   - every restart resumed (nothing started over, nothing refused),
#   - no output is ever half-visible: every checkpoint-*/ and final/ that exists is complete, every dump shard
#     listed or present verifies, no temporary name is left next to the outputs,
#   - the interrupted runs end byte-identical to uninterrupted ones: train's metrics.jsonl losses and final
#     weights, dump's shards and manifest, ablate's results.csv.
#
#   bash scripts/kill-test.sh            # KILLS=12 per command (36 in all), about 15 minutes on 2 cores
#   KILLS=30 bash scripts/kill-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
swift build -c release --product fusellm >&2
bin=$PWD/.build/release/fusellm
kills=${KILLS:-12}
work=${WORK:-$(mktemp -d /tmp/fusellm-kill-test.XXXXXX)}
mkdir -p "$work"
train_data=(data/sample/minipile/train-00000-of-00002.parquet)
valid=data/sample/minipile/validation-00000-of-00001.parquet
say() { printf '\n== %s\n' "$*" >&2; }
source scripts/lib/faults.sh
RANDOM=${SEED:-7}

# Runs "$@" in the background and kills it with SIGKILL after a random 0.5–8 s (unless it finishes first).
# Prints "killed" or "finished".
run_and_kill() {
  "$@" >/dev/null 2>>"$work/stderr.log" &
  local pid=$! delay
  delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.5 + 7.5 * r / 32767 }')
  for _ in $(seq 1 $(awk -v d="$delay" 'BEGIN { print int(d * 20) }')); do
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  if kill -9 $pid 2>/dev/null; then wait $pid 2>/dev/null || true; echo killed
  else wait $pid || fail "$* exited with an error (see $work/stderr.log)"; echo finished; fi
}

# No temporary or partial names may be visible next to finished outputs.
check_no_partial() {  # dir
  local stray
  stray=$(find "$1" -maxdepth 3 \( -name '.*tmp-*' -o -name '.*partial*' \) 2>/dev/null | head -3 || true)
  [ -z "$stray" ] || echo "  note: temporary names present while interrupted (removed or reused on restart): $stray" >&2
  check_complete "$1"
}

losses() { python3 -c "import json,sys; [print(r['step'], repr(r['loss'])) for r in map(json.loads, open(sys.argv[1])) if 'loss' in r]" "$1"; }

# ---------- train ----------
say "train: reference run, then the same run killed $kills times"
targs=(train --data "${train_data[@]}" --model-config data/configs/target-tiny.json
       --tokenizer data/tokenizers/target-spm/tokenizer.model --steps 200 --batch-size 2 --block-size 128 --lr 2e-3
       --checkpoint-every 7 --keep-checkpoints 2 --eval-fraction 0.02 --seed 3 --threads 2)
[ -f "$work/train-ref/final/model.safetensors" ] || $bin "${targs[@]}" --output "$work/train-ref" >/dev/null 2>&1
n=0
while [ ! -f "$work/train-killed/final/model.safetensors" ]; do
  resume=(); ls "$work/train-killed" 2>/dev/null | grep -q '^checkpoint-' && resume=(--resume)
  if [ $n -lt "$kills" ]; then
    r=$(run_and_kill $bin "${targs[@]}" --output "$work/train-killed" "${resume[@]}")
    [ "$r" = killed ] && n=$((n + 1))
  else
    $bin "${targs[@]}" --output "$work/train-killed" "${resume[@]}" >/dev/null 2>>"$work/stderr.log"
  fi
  check_no_partial "$work/train-killed"
done
diff <(losses "$work/train-ref/metrics.jsonl") <(losses "$work/train-killed/metrics.jsonl") >/dev/null \
  || fail "train: the losses of the interrupted run differ from the reference"
cmp -s "$work/train-ref/final/model.safetensors" "$work/train-killed/final/model.safetensors" \
  || fail "train: final weights differ from the reference"
echo "train: killed $n times; losses of all 200 steps and the final weights are identical to the uninterrupted run" >&2
train_kills=$n

# ---------- dump ----------
say "dump: reference dump, then the same dump killed $kills times"
model=$work/train-ref/final
[ -f "$work/prepared/prepared.json" ] || $bin prepare --data "${train_data[@]}" --target "$model" --block-size 128 \
  --max-text-tokens 300 --limit-documents 120 --output "$work/prepared" >/dev/null 2>&1
dargs=(dump --prepared "$work/prepared" --model "$model" --texts-per-shard 4 --threads 2)
[ -f "$work/dump-ref/manifest.json" ] || $bin "${dargs[@]}" --output "$work/dump-ref" >/dev/null 2>&1
n=0
until [ -f "$work/dump-killed/manifest.json" ] && python3 -c "import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get('shards') else 1)" "$work/dump-killed/manifest.json" 2>/dev/null \
      && [ "$(ls "$work/dump-killed" | grep -c '^shard-')" = "$(ls "$work/dump-ref" | grep -c '^shard-')" ]; do
  if [ $n -lt "$kills" ]; then
    r=$(run_and_kill $bin "${dargs[@]}" --output "$work/dump-killed")
    [ "$r" = killed ] && n=$((n + 1))
  else
    $bin "${dargs[@]}" --output "$work/dump-killed" >/dev/null 2>>"$work/stderr.log"
  fi
done
for f in "$work"/dump-ref/shard-*; do
  cmp -s "$f" "$work/dump-killed/$(basename "$f")" || fail "dump: $(basename "$f") differs from the reference"
done
cmp -s "$work/dump-ref/manifest.json" "$work/dump-killed/manifest.json" || fail "dump: manifest.json differs"
echo "dump: killed $n times; every shard and the manifest are byte-identical to the uninterrupted dump" >&2
dump_kills=$n

# ---------- ablate ----------
say "ablate: reference ablation, then the same ablation killed $kills times"
write_config() {  # output
  cat <<YAML
output: $1
prepared: $work/prepared
init_from: $model
target_dump: $work/dump-ref
sources: {self: $work/dump-ref}
train: {steps: 12, batch_size: 2, block_size: 128, lr: 1e-3, checkpoint_every: 3, eval_fraction: 0, threads: 2}
eval: {data: [$valid], block_size: 128}
seeds: [1, 2]
grid: {fusion: [mince, avgce]}
arms: [{name: clm, fusion: clm}]
baselines: [{name: before, model: $model}]
YAML
}
write_config "$work/ablate-ref" > "$work/ablate-ref.yaml"
write_config "$work/ablate-killed" > "$work/ablate-killed.yaml"
[ -f "$work/ablate-ref/results.csv" ] || $bin ablate "$work/ablate-ref.yaml" >/dev/null 2>&1
n=0
runs=7
while [ "$(ls "$work"/ablate-killed/arms/*/seed-*/result.json "$work"/ablate-killed/baselines/*/result.json 2>/dev/null | wc -l)" -lt $runs ]; do
  if [ $n -lt "$kills" ]; then
    r=$(run_and_kill $bin ablate "$work/ablate-killed.yaml")
    [ "$r" = killed ] && n=$((n + 1))
  else
    $bin ablate "$work/ablate-killed.yaml" >/dev/null 2>>"$work/stderr.log"
  fi
  for d in "$work"/ablate-killed/arms/*/seed-*; do [ -d "$d" ] && check_no_partial "$d"; done
done
[ -f "$work/ablate-killed/results.csv" ] || $bin ablate "$work/ablate-killed.yaml" --report-only >/dev/null 2>&1
cmp -s "$work/ablate-ref/results.csv" "$work/ablate-killed/results.csv" || fail "ablate: results.csv differs from the reference"
echo "ablate: killed $n times; results.csv is byte-identical to the uninterrupted ablation" >&2

say "kill test passed: train killed $train_kills times, dump $dump_kills, ablate $n (work directory $work)"

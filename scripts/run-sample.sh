#!/usr/bin/env bash
# The main job on the bundled sample: set-up, release build, train a small Llama (byte tokens)
# on data/sample, evaluate it, and print the report. Resumes if interrupted (run it again).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product fusellm >&2
out=${OUT:-checkpoints/sample-run}
resume=()
[ -d "$out" ] && ls "$out" | grep -q '^checkpoint-' && resume=(--resume)
.build/release/fusellm train \
  --data data/sample/python-reference.txt \
  --model-config data/configs/tiny-byte-llama.json \
  --output "$out" --steps "${STEPS:-300}" --batch-size 8 --block-size 128 \
  --lr 2e-3 --warmup-ratio 0.05 --min-lr-ratio 0.1 --checkpoint-every 100 "${resume[@]}"
echo "final checkpoint: $out/final (HF layout); metrics: $out/metrics.jsonl" >&2

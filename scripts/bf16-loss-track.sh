#!/usr/bin/env bash
# Issue 16, item 2 on a real model: 50 steps of continual training of SmolLM2-135M on the bundled sample, once in
# fp32 and once with --precision bf16 (same seed, data order and hyper-parameters), and how far apart the two loss
# curves are (largest and mean relative gap per step, final losses, seconds per step).
#
#   bash scripts/bf16-loss-track.sh        # ~5 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pipeline.sh
out=${OUT:-checkpoints/bf16-loss-track}
steps=${STEPS:-50}
set_up_and_build   # sets bin, smol, train; creates $out
target=$out/smollm2-f32
[ -e "$target/config.json" ] || $bin convert --model "$smol" --output "$target"
[ -e "$out/prepared/prepared.json" ] || $bin prepare --data "${train[@]}" --target "$target" --block-size 256 \
  --limit-documents 24 --output "$out/prepared"
for p in fp32 bf16; do
  [ -e "$out/$p/final/config.json" ] && continue
  $bin train --prepared "$out/prepared" --init-from "$target" --steps "$steps" --batch-size 1 --block-size 256 \
    --lr 5e-5 --warmup-ratio 0.05 --eval-fraction 0 --checkpoint-every 1000 --seed 1 --precision "$p" --output "$out/$p"
done
python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
def load(p):
    return [json.loads(l) for l in open(f"{d}/{p}/metrics.jsonl") if '"loss"' in l]
a, b = load("fp32"), load("bf16")
gaps = [abs(y["loss"] - x["loss"]) / x["loss"] for x, y in zip(a, b)]
worst = max(range(len(gaps)), key=gaps.__getitem__)
print(f"{len(gaps)} steps: largest relative loss gap {100 * gaps[worst]:.3f}% (step {a[worst]['step']}), "
      f"mean {100 * sum(gaps) / len(gaps):.3f}%; final loss fp32 {a[-1]['loss']:.4f}, bf16 {b[-1]['loss']:.4f}; "
      f"{a[-1]['elapsed_s'] / len(a):.2f} s/step fp32, {b[-1]['elapsed_s'] / len(b):.2f} s/step bf16")
PY

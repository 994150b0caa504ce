#!/usr/bin/env bash
# FuseLLM with real models of different architectures (docs/reproduction-real.md), from a fresh clone:
#
#   target   SmolLM2-135M-Instruct (Llama, byte-level BPE 49,152): its Q4_1 GGUF dequantised to an f32 HF
#            checkpoint by fusellm convert, trained in f32; it is also a source (its own dump)
#   source   Gemma 3 270M (Gemma 3, SentencePiece 262,144 with byte fallback, BOS first), Q4_K_M GGUF
#
#   1. convert the target; prepare DOCS training documents of the bundled sample into blocks of 512 target tokens
#   2. dump both models over the prepared texts (top-10)
#   3. fusellm ablate: CLM-only (λ = 1), MinCE, AvgCE, MinCE with EM maps, distillation from Gemma alone, MinCE at
#      λ = 0.5, MinCE and AvgCE scored per byte, MinCE with the mapping-statistics map, with byte-offset alignment,
#      and per token (mince-token); SEEDS per arm, paired by seed; held-out perplexity (target tokenizer) and bits
#      per byte per domain on the validation split, next to SmolLM2 and Gemma themselves
#
# Hours on 2 cores. Every stage and every arm resumes: run it again after an interruption. Each stage's time
# goes to $OUT/stages.jsonl. Knobs: OUT, DOCS, STEPS (optimizer steps per arm, 2 × 512 tokens each), SEEDS
# (e.g. "1, 2"), LR, REPORT_DIR (where the table and plots are copied; default docs/reproduction-real), ARMS (run only
# these runs now, e.g. "mince mince-ms"; the report keeps every finished run), BIN (a fusellm binary to use instead
# of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pipeline.sh
out=${OUT:-checkpoints/reproduction-real}
docs=${DOCS:-48}
steps=${STEPS:-100}
seeds=${SEEDS:-1, 2}
lr=${LR:-5e-5}
valid=data/sample/minipile/validation-00000-of-00001.parquet
set_up_and_build   # apt packages, SmolLM2 and Gemma 3, the release binary; sets bin, smol, gemma, train; creates $out
began=$(date +%s)

# Runs a stage unless its marker file exists, and records how long it took.
stage() {  # name done-marker command…
  local name=$1 marker=$2; shift 2
  [ -e "$marker" ] && return
  say "$name"
  local t0; t0=$(date +%s)
  "$@"
  printf '{"stage": "%s", "seconds": %d, "finished": "%s"}\n' "$name" $(( $(date +%s) - t0 )) "$(date -u +%FT%TZ)" \
    >> "$out/stages.jsonl"
}

# 1. The target as an f32 checkpoint, and the prepared blocks of its tokens.
target=$out/smollm2-f32
stage "convert SmolLM2 to f32" "$target/config.json" \
  $bin convert --model "$smol" --output "$target"
stage "prepare ($docs documents, blocks of 512 target tokens)" "$out/prepared/prepared.json" \
  $bin prepare --data "${train[@]}" --target "$target" --also-tokenizer "$gemma" --block-size 512 \
    --max-text-tokens 2000 --limit-documents "$docs" --output "$out/prepared"

# 2. One dump per model (resumable shard by shard).
stage "dump SmolLM2 (the target's own)" "$out/dumps/smollm2/manifest.json" dump smollm2 "$target"
stage "dump Gemma 3" "$out/dumps/gemma3/manifest.json" dump gemma3 "$gemma"

# 3. The ablation (restartable: finished runs are kept, an interrupted one resumes from its checkpoint).
cat > "$out/ablation.yaml" <<YAML
output: $out/ablation
prepared: $out/prepared
init_from: $target
target_dump: $out/dumps/smollm2
align_cache: $out/alignment-cache
sources:
  gemma3: $out/dumps/gemma3
train: {steps: $steps, batch_size: 2, block_size: 512, lr: $lr, warmup_ratio: 0.05, min_lr_ratio: 0.1,
        checkpoint_every: 10, keep_checkpoints: 1, eval_fraction: 0}
eval:
  data: [$valid]
  block_size: 512
seeds: [$seeds]
grid:
  fusion: [mince, avgce]
  vocab_map: [mined]
  lambda: [0.9]
  sources: [[gemma3]]
arms:
  - {name: clm, fusion: clm}
  - {fusion: mince, vocab_map: em}
  - {name: distill-gemma3, fusion: "single:gemma3"}
  - {fusion: mince, lambda: 0.5}
  - {fusion: mince, fusion_metric: bits-per-byte}
  - {fusion: avgce, fusion_metric: bits-per-byte}
  - {fusion: mince, vocab_map: ms}
  - {fusion: mince, alignment: offsets}
  - {fusion: mince-token}
baselines:
  - {name: smollm2-before, model: $target}
  - {name: gemma3, model: $gemma}
compare_to: clm
YAML
if [ -n "${ARMS:-}" ]; then   # some runs only (their names as `fusellm ablate --dry-run` lists them); no .finished marker
  say "ablation: $ARMS"
  $bin ablate "$out/ablation.yaml" --only $ARMS >/dev/null
else
  stage "ablation" "$out/ablation/.finished" bash -c "$bin ablate '$out/ablation.yaml' >/dev/null && touch '$out/ablation/.finished'"
fi

if [ -n "${ARMS:-}" ] && [ -z "${REPORT_DIR:-}" ]; then   # a partial run does not replace the committed report
  say "done (ARMS: $ARMS); report: $out/ablation/results.md (set REPORT_DIR to copy it)"
  exit 0
fi
report=${REPORT_DIR:-docs/reproduction-real}
mkdir -p "$report"
cp "$out/ablation/results.md" "$out/ablation/results.csv" "$out/ablation/loss-curves.svg" \
   "$out/ablation/perplexity-by-domain.svg" "$out/stages.jsonl" "$report/"
say "done ($(( ($(date +%s) - began) / 60 )) min this time); report: $report/results.md"

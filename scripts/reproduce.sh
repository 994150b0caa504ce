#!/usr/bin/env bash
# The small-scale reproduction of the FuseLLM paper's findings (docs/reproduction.md), from a fresh clone.
#
#   1. models: the target (SentencePiece 4096) and a source with its own byte-level BPE 6144, trained here from
#      scratch; SmolLM2-135M (byte-level BPE 49152, from PyPI); three "domain experts": the target continued on
#      prose (bible, dictionary), code (Python stdlib) and the Debian handbook (7 languages) — same architecture
#      and vocabulary as the target, so they can also be ensembled and weight-merged
#   2. prepare DOCS training documents into blocks; dump every source over them once
#   3. fusellm ablate: CLM-only vs fused continual training of the target, MinCE vs AvgCE, MinED vs EM (and
#      FuseChat-2's mapping statistics), λ 0.9 and 0.5, 1/2/3 sources (SmolLM2 first; and the experts), single-teacher
#      distillation, FuseChat's pairwise fuse-then-merge (SCE) of the three sources, fusion of the experts vs their
#      output ensemble and weight merges; each trained arm with 3 seeds; held-out perplexity per domain on the
#      validation and test splits
#
# Every step resumes or is skipped when its output is complete: run it again after an interruption.
# Knobs (environment): OUT (run directory), DOCS (training documents), STEPS (continual-training steps per arm),
# REPORT_DIR (where the table and plots are copied; default docs/reproduction), ARMS (run only these runs now),
# BIN (a fusellm binary to use instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pipeline.sh
out=${OUT:-checkpoints/reproduction}
docs=${DOCS:-64}
steps=${STEPS:-150}
heldout=(data/sample/minipile/validation-00000-of-00001.parquet data/sample/minipile/test-00000-of-00001.parquet)
set_up_and_build   # apt packages, SmolLM2 and Gemma 3, the release binary; sets bin, smol, gemma, train; creates $out
began=$(date +%s)

# 1. Models.
pretrain_sample_models
target=$out/target-base/final
expert() {  # name domains…
  local name=$1 dir=$out/experts/$1; shift
  [ -f "$dir/final/model.safetensors" ] && return
  local domains=(); for d in "$@"; do domains+=(--domain "$d"); done
  say "domain expert $name: the target continued on $*"
  $bin train --data "${train[@]}" "${domains[@]}" --init-from "$target" --output "$dir" --steps 80 --batch-size 4 \
    --block-size 256 --lr 1e-3 --warmup-ratio 0.05 --min-lr-ratio 0.1 --checkpoint-every 40 --eval-fraction 0.02 \
    --seed 7 $(resume_flag "$dir") >/dev/null
}
expert prose bible-kjv gcide
expert code python-stdlib
expert handbook debian-handbook.{de,en,es,fr,ja,ru,zh}

# 2. Prepared blocks and one dump per source.
say "prepare ($docs documents, blocks of 256 target tokens)"
$bin prepare --data "${train[@]}" --target "$target" --also-tokenizer "$smol" --also-tokenizer "$out/source-bpe/final" \
  --block-size 256 --max-text-tokens 1000 --limit-documents "$docs" --output "$out/prepared" >&2
dump target "$target"
dump smollm2 "$smol"
dump source-bpe "$out/source-bpe/final"
for e in prose code handbook; do dump "expert-$e" "$out/experts/$e/final"; done

# 3. The ablation (its config and the merge recipes are written here so their paths follow OUT).
experts=("$out/experts/prose/final" "$out/experts/code/final" "$out/experts/handbook/final")
for method in linear ties; do
  {
    echo "merge_method: $method"
    [ "$method" = ties ] && echo "base_model: $target"
    echo "models:"; for e in "${experts[@]}"; do echo "  - $e"; done
    if [ "$method" = ties ]; then echo "parameters: {weight: 1.0, density: 0.5, normalize: true}"
    else echo "parameters: {weight: 1.0}"; fi
  } > "$out/merge-$method.yaml"
done
cat > "$out/ablation.yaml" <<YAML
output: $out/ablation
prepared: $out/prepared
init_from: $target
target_dump: $out/dumps/target
align_cache: $out/alignment-cache
sources:
  smollm2: $out/dumps/smollm2
  source-bpe: $out/dumps/source-bpe
  expert-prose: $out/dumps/expert-prose
  expert-code: $out/dumps/expert-code
  expert-handbook: $out/dumps/expert-handbook
train: {steps: $steps, batch_size: 4, block_size: 256, lr: 5e-4, warmup_ratio: 0.05, min_lr_ratio: 0.1,
        checkpoint_every: 50, keep_checkpoints: 1, eval_fraction: 0}
eval:
  data: [${heldout[0]}, ${heldout[1]}]
  block_size: 256
seeds: [1, 2, 3]
grid:                       # the main comparison: three sources, two vocabularies besides the target's
  fusion: [mince, avgce]
  vocab_map: [mined]
  lambda: [0.9, 0.5]
  sources: [[smollm2, source-bpe, expert-prose]]
arms:
  - {name: clm, fusion: clm}
  - {fusion: mince, vocab_map: em}
  - {name: mince-1-source, sources: [smollm2]}
  - {name: mince-2-sources, sources: [smollm2, source-bpe]}
  - {name: distill-smollm2, fusion: "single:smollm2", sources: [smollm2]}
  - {name: mince-expert-prose, sources: [expert-prose]}
  - {name: mince-experts-2, sources: [expert-prose, expert-code]}
  - {name: mince-experts, sources: [expert-prose, expert-code, expert-handbook]}
  - {fusion: pairwise-sce}
  - {fusion: mince, vocab_map: ms}
baselines:
  - {name: target-before, model: $target}
  - {name: expert-prose, model: ${experts[0]}}
  - {name: expert-code, model: ${experts[1]}}
  - {name: expert-handbook, model: ${experts[2]}}
  - {name: source-bpe, model: $out/source-bpe/final}
  - {name: smollm2, model: $smol}
  - {name: ensemble-experts, ensemble: [${experts[0]}, ${experts[1]}, ${experts[2]}]}
  - {name: merge-linear-experts, merge: $out/merge-linear.yaml}
  - {name: merge-ties-experts, merge: $out/merge-ties.yaml}
compare_to: clm
YAML
say "ablation ($out/ablation.yaml)"
# ARMS: run only these runs now (names as `fusellm ablate --dry-run` lists them); the report keeps every finished run.
$bin ablate "$out/ablation.yaml" ${ARMS:+--only $ARMS}

# The report's table and plots (docs/reproduction.md shows these files).
if [ -n "${ARMS:-}" ] && [ -z "${REPORT_DIR:-}" ]; then   # a partial run does not replace the committed report
  say "done (ARMS: $ARMS); report: $out/ablation/results.md (set REPORT_DIR to copy it)"
  exit 0
fi
report=${REPORT_DIR:-docs/reproduction}
mkdir -p "$report"
cp "$out/ablation/results.md" "$out/ablation/results.csv" "$out/ablation/loss-curves.svg" \
   "$out/ablation/perplexity-by-domain.svg" "$report/"
say "done in $(( ($(date +%s) - began) / 60 )) min; report: $report/results.md (+ results.csv, loss-curves.svg, perplexity-by-domain.svg)"

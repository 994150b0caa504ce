# Shell helpers shared by scripts/run-sample.sh and scripts/reproduce.sh (sourced, not run, from the repository root).

# Installs what is missing, fetches SmolLM2 and Gemma 3, builds the release binary (or takes $BIN); sets bin, smol, gemma and train
# (the sample's training files) and creates $out.
set_up_and_build() {
  bash scripts/setup.sh
  bash scripts/fetch-models.sh
  if [ -n "${BIN:-}" ]; then   # a binary built before (e.g. a copy kept apart from rebuilds during a long run)
    bin=$BIN
  else
    swift build -c release --product fusellm >&2
    bin=.build/release/fusellm
  fi
  smol=checkpoints/SmolLM2-135M-Instruct.Q4_1.gguf
  gemma=checkpoints/gemma-3-270m-q4_k_m.gguf
  train=(data/sample/minipile/train-00000-of-00002.parquet data/sample/minipile/train-00001-of-00002.parquet)
  mkdir -p "$out"
}

say() { printf '\n== %s\n' "$*" >&2; }

# --resume when a run directory already holds checkpoints.
resume_flag() { [ -d "$1" ] && ls "$1" | grep -q '^checkpoint-' && echo --resume || true; }

# A small model trained here from scratch on the sample (skipped once final/ exists).
pretrain() {  # name config tokenizer steps
  local dir=$out/$1
  [ -f "$dir/final/model.safetensors" ] && return
  say "pretrain $1 ($4 steps)"
  $bin train --data "${train[@]}" --model-config "$2" --tokenizer "$3" --output "$dir" \
    --steps "$4" --batch-size 4 --block-size 256 --lr 2e-3 --warmup-ratio 0.05 --min-lr-ratio 0.1 \
    --checkpoint-every 50 --eval-fraction 0.02 $(resume_flag "$dir") >/dev/null
}

# The target and a source with its own vocabulary, both trained here (the main job's and the reproduction's).
pretrain_sample_models() {
  pretrain target-base data/configs/target-tiny.json data/tokenizers/target-spm/tokenizer.model "${PRETRAIN_STEPS:-160}"
  pretrain source-bpe data/configs/source-tiny-bpe.json data/tokenizers/source-bpe/tokenizer.json "${PRETRAIN_STEPS:-120}"
}

# A teacher dump over the prepared texts (resumable: complete shards are kept).
dump() {  # name model
  say "dump $1"
  $bin dump --prepared "$out/prepared" --model "$2" --output "$out/dumps/$1" >&2
  $bin dump verify "$out/dumps/$1" --prepared "$out/prepared" >&2   # checksums, counts, values, tokens
}

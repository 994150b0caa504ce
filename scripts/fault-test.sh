#!/usr/bin/env bash
# A full disk and an unwritable output directory during `train` and `dump`: each must stop with one clear error
# (non-zero exit, naming the path and the cause), leave what it had finished intact, and leave nothing
# half-written under a final name. Needs root (it mounts small tmpfs file systems); skips otherwise.
#
#   bash scripts/fault-test.sh      # about 2 minutes
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
swift build -c release --product fusellm >&2
bin=$PWD/.build/release/fusellm
work=$(mktemp -d /tmp/fusellm-fault-test.XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=4m tmpfs "$mnt" 2>/dev/null; then
  echo "skipped: cannot mount a tmpfs here (needs root)" >&2; exit 0
fi
trap 'umount "$mnt" 2>/dev/null || true' EXIT
say() { printf '\n== %s\n' "$*" >&2; }
source scripts/lib/faults.sh
train_data=(data/sample/minipile/train-00000-of-00002.parquet)

# expect_clean_failure LOG PATTERN…: non-zero exit already seen; the error is one line naming each pattern.
expect_error() {  # log patterns…
  local log=$1; shift
  grep -v '^step \|^target tokens\|^model:\|^blocks ' "$log" | grep -q . || fail "no error message in $log"
  for p in "$@"; do grep -qi -- "$p" "$log" || fail "the error in $log does not mention '$p': $(tail -2 "$log")"; done
  if grep -qi "fatal error\|backtrace\|segmentation" "$log"; then fail "crashed instead of reporting: $log"; fi
  echo "  error: $(grep -v '^step \|^target tokens\|^model:' "$log" | tail -1 | cut -c1-220)" >&2
}


targs=(train --data "${train_data[@]}" --model-config data/configs/target-tiny.json
       --tokenizer data/tokenizers/target-spm/tokenizer.model --steps 30 --batch-size 2 --block-size 128
       --checkpoint-every 5 --keep-checkpoints 10 --eval-fraction 0.02 --seed 3 --threads 2)

say "train: the disk fills up after a few checkpoints (4 MB; one checkpoint with AdamW state is ~60 MB → first write fails)"
# A tiny model's checkpoint (weights + AdamW moments) does not fit: the first checkpoint write hits ENOSPC.
if $bin "${targs[@]}" --output "$mnt/train" >/dev/null 2>"$work/train-full.log"; then fail "train succeeded on a full disk"; fi
expect_error "$work/train-full.log" "$mnt/train" "space"
check_complete "$mnt/train"
[ -z "$(find "$mnt/train" -name '.*partial*' -o -name '.*tmp-*' 2>/dev/null)" ] || fail "train left temporary files on a full disk"

say "train: a checkpoint exists, then the file system turns read-only (resume must fail clearly, checkpoint intact)"
umount "$mnt"; mount -t tmpfs -o size=512m tmpfs "$mnt"
$bin "${targs[@]}" --steps 20 --output "$mnt/train" >/dev/null 2>&1
cp -a "$mnt/train/final" "$work/model"
rm -rf "$mnt/train/final" "$mnt/train/checkpoint-000020"   # as if killed after step 15's checkpoint
before=$(cd "$mnt/train" && find . -type f -exec sha256sum {} + | sort)
mount -o remount,ro "$mnt"
if $bin "${targs[@]}" --steps 20 --output "$mnt/train" --resume >/dev/null 2>"$work/train-ro.log"; then fail "train succeeded on a read-only output"; fi
expect_error "$work/train-ro.log" "$mnt/train"
after=$(cd "$mnt/train" && find . -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] || fail "train changed its earlier outputs on a read-only file system"
check_complete "$mnt/train"
mount -o remount,rw "$mnt"

say "dump: the disk fills up part-way (earlier shards stay complete and verifiable; a resume on a bigger disk finishes)"
model=$work/model
$bin prepare --data "${train_data[@]}" --target "$model" --block-size 128 --max-text-tokens 300 --limit-documents 40 \
  --output "$work/prepared" >/dev/null 2>&1
$bin dump --prepared "$work/prepared" --model "$model" --texts-per-shard 4 --encoding f32 --k 64 --output "$work/dump-ref" >/dev/null 2>&1
umount "$mnt"; mount -t tmpfs -o size=2m tmpfs "$mnt"
if $bin dump --prepared "$work/prepared" --model "$model" --texts-per-shard 4 --encoding f32 --k 64 --output "$mnt/dump" \
     >/dev/null 2>"$work/dump-full.log"; then fail "dump succeeded on a full disk"; fi
expect_error "$work/dump-full.log" "$mnt/dump" "space"
shards=$(ls "$mnt/dump" | grep -c '^shard-' || true)
for f in "$mnt"/dump/shard-*; do
  [ -f "$f" ] || continue
  cmp -s "$f" "$work/dump-ref/$(basename "$f")" || fail "dump: $(basename "$f") on the full disk is not the complete shard"
done
echo "  $shards complete shards kept on the full disk" >&2
mkdir -p "$work/dump-resumed" && cp -a "$mnt"/dump/. "$work/dump-resumed/"
$bin dump --prepared "$work/prepared" --model "$model" --texts-per-shard 4 --encoding f32 --k 64 --output "$work/dump-resumed" >/dev/null 2>&1
for f in "$work"/dump-ref/shard-* "$work/dump-ref/manifest.json"; do
  cmp -s "$f" "$work/dump-resumed/$(basename "$f")" || fail "dump resumed after a full disk: $(basename "$f") differs"
done

say "dump: unwritable output (read-only file system)"
mount -o remount,ro "$mnt"
if $bin dump --prepared "$work/prepared" --model "$model" --output "$mnt/dump2" >/dev/null 2>"$work/dump-ro.log"; then
  fail "dump succeeded on a read-only output"; fi
expect_error "$work/dump-ro.log" "$mnt/dump2"

say "fault test passed (work directory $work)"

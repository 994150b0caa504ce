#!/usr/bin/env bash
# A rank killed with SIGKILL in the middle of `mpirun -np 2 fusellm train` (docs/distributed.md, "Faults"):
#   - the job ends, non-zero, within BOUND seconds (Open MPI's mpirun stops the surviving rank; nothing hangs),
#   - every checkpoint left in the run directory is complete,
#   - `mpirun … --resume` finishes the run, and its final weights and losses equal an uninterrupted run's byte for byte.
# Repeated KILLS times, each at a later checkpoint, killing rank 0 and rank 1 in turn.
#
#   bash scripts/mpi-fault-test.sh        # KILLS=3, about 3 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --mpi >/dev/null
swift build -c release --product fusellm >&2
bin=$PWD/.build/release/fusellm
kills=${KILLS:-3}
bound=${BOUND:-30}
work=${WORK:-$(mktemp -d /tmp/fusellm-mpi-fault.XXXXXX)}
source scripts/lib/faults.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
say() { printf '\n== %s\n' "$*" >&2; }
mpi=(mpirun -np 2 --oversubscribe --bind-to none)
args=(train --data data/sample/minipile/validation-00000-of-00001.parquet --model-config data/configs/target-tiny.json
      --tokenizer data/tokenizers/target-spm/tokenizer.model --steps 40 --batch-size 2 --block-size 128 --lr 2e-3
      --checkpoint-every 4 --keep-checkpoints 2 --eval-fraction 0 --seed 5 --threads 1)
losses() { python3 -c "import json,sys; [print(r['step'], repr(r['loss'])) for r in map(json.loads, open(sys.argv[1]))]" "$1"; }

say "reference: the same run, uninterrupted"
"${mpi[@]}" $bin "${args[@]}" --output "$work/ref" >/dev/null 2>"$work/ref.log" || fail "reference run failed (see $work/ref.log)"

for k in $(seq 1 "$kills"); do
  run=$work/killed-$k
  rank=$(( k % 2 ))
  at=$(( 4 * (k + 1) ))
  say "kill $k: SIGKILL to rank $rank once checkpoint $at is written"
  "${mpi[@]}" $bin "${args[@]}" --output "$run" >/dev/null 2>"$run.log" &
  job=$!
  until ls "$run" 2>/dev/null | grep -q "^checkpoint-0*$at\$"; do
    kill -0 $job 2>/dev/null || fail "the run ended before checkpoint $at"
    sleep 0.1
  done
  # The ranks are mpirun's fusellm children, in rank order (rank 0 starts first).
  pids=($(pgrep -P $job -f "fusellm train" | sort -n))
  [ ${#pids[@]} -ge 2 ] || fail "expected two ranks, found ${pids[*]:-none}"
  t0=$(date +%s.%N)
  kill -9 "${pids[$rank]}"
  status=0
  for _ in $(seq 1 $(( bound * 10 ))); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
  if kill -0 $job 2>/dev/null; then kill -9 $job; fail "the job was still running ${bound} s after rank $rank died"; fi
  wait $job || status=$?
  waited=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")
  [ $status -ne 0 ] || fail "mpirun exited 0 after rank $rank was killed"
  echo "  job ended ${waited} s after the kill, exit $status" >&2
  check_complete "$run"
  "${mpi[@]}" $bin "${args[@]}" --output "$run" --resume >/dev/null 2>>"$run.log" || fail "--resume failed (see $run.log)"
  cmp -s "$work/ref/final/model.safetensors" "$run/final/model.safetensors" || fail "resumed final weights differ from the reference"
  diff <(losses "$work/ref/metrics.jsonl" | cut -d' ' -f1,2) <(losses "$run/metrics.jsonl" | cut -d' ' -f1,2) >/dev/null \
    || fail "resumed losses differ from the reference"
  echo "  resumed: final weights and losses identical to the uninterrupted run" >&2
done
say "passed: $kills kills, every job stopped within ${bound} s, every resume exact ($work)"

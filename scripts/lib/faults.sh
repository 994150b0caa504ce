# Helpers shared by scripts/kill-test.sh and scripts/fault-test.sh (sourced, not run).

fail() { echo "FAIL: $*" >&2; exit 1; }

# Every checkpoint-*/ and final/ that is visible in a run directory is complete: config.json is there and
# model.safetensors is exactly as long as its header says.
check_complete() {  # run directory
  for c in "$1"/checkpoint-* "$1"/final; do
    [ -d "$c" ] || continue
    [ -f "$c/config.json" ] || fail "$c is visible but has no config.json"
    python3 - "$c/model.safetensors" <<'PY' || fail "$c is visible but its model.safetensors is missing or incomplete"
import json, os, struct, sys
p = sys.argv[1]
size = os.path.getsize(p)
with open(p, 'rb') as f:
    n = struct.unpack('<Q', f.read(8))[0]
    header = json.loads(f.read(n))
end = max(v['data_offsets'][1] for k, v in header.items() if k != '__metadata__')
sys.exit(0 if 8 + n + end == size else 1)
PY
  done
}

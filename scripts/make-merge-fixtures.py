#!/usr/bin/env python3
"""Reference values for `fusellm merge` (Tests/Fixtures/merge/), computed independently of the Swift code.

Every merge method is written out here in numpy (float64 after the float32 task vectors, as mergekit forms
them) from mergekit's formulas (merge_methods/linear.py, slerp.py, generalized_task_arithmetic.py and
sparsify.py). When mergekit is importable the same cases are also run through mergekit's own functions and the
largest difference is recorded in cases.json; DARE's random masks are fed to mergekit by replacing
torch.bernoulli for the call, so the comparison is exact.

DARE draws: the Swift side uses SeededRandom (SplitMix64, Sources/FuseTensor/SeededRandom.swift); this script
reimplements it, and the stream of each (model, tensor) pair is derived as docs/merging.md says:
    SplitMix64(seed XOR fnv1a64(f"{model_index}:{tensor_name}")), one draw u in (0, 1] per element in
    row-major order, kept when u <= density.

Writes (about 100 KB):
    inputs.safetensors    base/NAME, a/NAME, b/NAME, c/NAME   (float32)
    expected.safetensors  CASE/NAME                           (float32, from the float64 reference)
    cases.json            per case a recipe in the YAML schema (model names instead of paths), the tensor
                          names and shapes, mergekit's max relative difference, and a few SplitMix64 draws
                          (as decimal strings: JSON readers do not all round doubles exactly).

Regenerate:  pip install numpy torch safetensors && pip install --no-deps mergekit==0.1.5  (optional)
             python3 scripts/make-merge-fixtures.py
"""
import contextlib
import json
import os

import numpy as np
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "merge")
MASK64 = (1 << 64) - 1

# ---------------------------------------------------------------------------------------------------------
# The RNG shared with the Swift side.


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def unit(self):
        """Uniform in (0, 1], as SeededRandom.nextUnitInterval()."""
        return float((self.next() >> 11) + 1) * (1.0 / 9007199254740992.0)


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & MASK64
    return h


def drop_keep_mask(seed, model_index, name, count, density):
    rng = SplitMix64(seed ^ fnv1a64(f"{model_index}:{name}".encode()))
    return np.array([rng.unit() <= density for _ in range(count)], dtype=np.float64)


# ---------------------------------------------------------------------------------------------------------
# Independent reference implementation (numpy).


def linear(tensors, weights, normalize):
    out = sum(w * t.astype(np.float64) for t, w in zip(tensors, weights))
    return out / sum(weights) if normalize else out


def slerp(t, v0, v1, dot_threshold=0.9995, eps=1e-8):
    a, b = v0.astype(np.float64).ravel(), v1.astype(np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    ua = a / na if na > eps else a
    ub = b / nb if nb > eps else b
    dot = float(np.clip(np.sum(ua * ub), -1.0, 1.0))
    if abs(dot) > dot_threshold:
        out = (1 - t) * a + t * b
    else:
        theta = np.arccos(dot)
        s = np.sin(theta)
        out = np.sin((1 - t) * theta) / s * a + np.sin(t * theta) / s * b
    return out.reshape(v0.shape)


def magnitude_mask(delta32, density):
    n = delta32.size
    k = max(1, int(density * n))
    order = np.argsort(-np.abs(delta32.ravel()), kind="stable")  # ties: lower index first
    mask = np.zeros(n)
    mask[order[:k]] = 1
    return mask.reshape(delta32.shape)


def outlier_mask(delta32, density, gamma):
    """Model Breadcrumbs (mergekit's magnitude_outliers): ascending by |x| (ties by index), drop the int(gamma·n)
    largest and the smallest, keeping int(density·n). With int(gamma·n) = 0 the largest are kept (mergekit's slice
    indices[bottom:-0] would keep nothing; fusellm follows the method there, see OutlierTrim)."""
    n = delta32.size
    keep, top = int(density * n), int(gamma * n)
    bottom = n - keep - top
    if bottom < 0:
        top += bottom
        bottom = 0
    order = np.argsort(np.abs(delta32.ravel()), kind="stable")
    mask = np.zeros(n)
    mask[order[bottom:n - top]] = 1
    return mask.reshape(delta32.shape)


def sce(base, tensors, select_topk):
    """FuseChat's SCE as mergekit's sce.py: select by variance, weights = mean of squares, erase minority signs."""
    b32 = base.astype(np.float32)
    tv = np.stack([(t.astype(np.float32) - b32).astype(np.float64) for t in tensors])
    if select_topk < 1:
        var = tv.var(axis=0).astype(np.float32).ravel()  # population variance, per entry across models
        k = int(np.count_nonzero(var) * select_topk)
        mask = np.zeros(var.size)
        if k > 0:
            order = np.argsort(-var, kind="stable")  # ties: lower index first
            mask[order[:k]] = 1
        tv = tv * mask.reshape(base.shape)
    majority = np.where(tv.sum(axis=0) >= 0, 1.0, -1.0)
    erase = (np.sign(tv) == majority).astype(np.float64)
    w = np.array([np.mean(t ** 2) for t in tv])
    w = np.full(len(tv), 1 / len(tv)) if abs(w.sum()) < 1e-6 else w / w.sum()
    ew = w.reshape((-1,) + (1,) * base.ndim) * erase
    return base.astype(np.float64) + (tv * ew).sum(axis=0) / np.maximum(ew.sum(axis=0), 1e-6)


def model_stock(base, tensors, filter_wise=False):
    """Model Stock as mergekit's model_stock.py: one ratio per tensor (or, filter_wise, per row of a matrix) from the
    mean pairwise cosine of the task vectors; where 1 + (n − 1)·cos is within 1e-6 of 0 the base is kept."""
    rows = base.reshape(-1, base.shape[-1]) if filter_wise and base.ndim == 2 else base.reshape(1, -1)
    others = [t.reshape(rows.shape) for t in tensors]
    out = np.empty(rows.shape)
    for r in range(rows.shape[0]):
        w0 = rows[r].astype(np.float64)
        ws = [t[r].astype(np.float64) for t in others]
        off = [w - w0 for w in ws]
        cos = []
        for i in range(len(off)):
            for j in range(i + 1, len(off)):
                c = off[i] @ off[j] / max(np.linalg.norm(off[i]) * np.linalg.norm(off[j]), 1e-6)
                cos.append(np.clip(c, -1, 1))
        c, n = np.mean(cos), len(ws)
        denominator = 1 + (n - 1) * c
        t = 0.0 if abs(denominator) < 1e-6 else n * c / denominator
        out[r] = t * np.mean(ws, axis=0) + (1 - t) * w0
    return out.reshape(base.shape)


def della_keep_probabilities(d32, density, epsilon):
    """DELLA's MAGPRUNE odds (mergekit's della_magprune): per row (a 1-D tensor is one row), ranks of |δ| ascending
    (stable), scaled to [0, 1], p = (density − ε) + scaled · 2ε."""
    rows = d32.reshape(1, -1) if d32.ndim == 1 else d32
    probs = np.empty(rows.shape)
    n = rows.shape[1]
    for r in range(rows.shape[0]):
        order = np.argsort(np.abs(rows[r]), kind="stable")
        for rank, i in enumerate(order):
            scaled = rank / (n - 1) if n > 1 else 0.0
            probs[r, i] = (density - epsilon) + scaled * 2 * epsilon
    return probs.reshape(d32.shape)


def della_keep_mask(seed, model_index, name, d32, density, epsilon):
    """One draw per entry in row-major order from the (model, tensor) stream, kept when u ≤ p."""
    probs = della_keep_probabilities(d32, density, epsilon).ravel()
    rng = SplitMix64(seed ^ fnv1a64(f"{model_index}:{name}".encode()))
    return np.array([rng.unit() <= p for p in probs], dtype=np.float64).reshape(d32.shape)


def task_vector_merge(name, base, models, spec):
    """models: list of (model_index, tensor, weight, density). spec: sparsify, consensus, normalize, lambda,
    rescale ('none' | 'density' | 'l1'), seed."""
    b32 = base.astype(np.float32)
    deltas, weights = [], []
    for index, tensor, weight, density in models:
        d32 = tensor.astype(np.float32) - b32  # task vectors in float32, as mergekit forms them
        d = d32.astype(np.float64)
        if spec["sparsify"] and density < 1:
            if spec["sparsify"] == "magnitude":
                mask = magnitude_mask(d32, density)
            elif spec["sparsify"] == "outliers":
                mask = outlier_mask(d32, density, spec["gamma"][index])
            elif spec["sparsify"] == "della":
                mask = della_keep_mask(spec["seed"], index, name, d32, density, spec["epsilon"][index])
            else:
                mask = drop_keep_mask(spec["seed"], index, name, d.size, density).reshape(d.shape)
            masked = d * mask
            if spec["rescale"] == "density":
                masked = masked / density
            elif spec["rescale"] == "l1":
                before, after = np.abs(d).sum(), np.abs(masked).sum()
                if before >= 1e-7 and after >= 1e-7:
                    masked = masked * (before / after)
            d = masked
        deltas.append(d * weight)
        weights.append(weight)
    weighted = np.stack(deltas)
    w = np.array(weights).reshape((-1,) + (1,) * base.ndim)
    if spec["consensus"]:
        majority = np.where(weighted.sum(axis=0) >= 0, 1.0, -1.0)
        agree = (np.sign(weighted) == majority).astype(np.float64)
        mixed = (weighted * agree).sum(axis=0)
        divisor = (w * agree).sum(axis=0)
        divisor[divisor == 0] = 1
    else:
        mixed = weighted.sum(axis=0)
        divisor = np.full(base.shape, w.sum())
        divisor[np.abs(divisor) < 1e-8] = 1
    if spec["normalize"]:
        mixed = mixed / divisor
    return base.astype(np.float64) + spec["lambda"] * mixed


# ---------------------------------------------------------------------------------------------------------
# Inputs and cases.

SHAPES = {
    "model.embed_tokens.weight": [24, 16],
    "model.layers.0.input_layernorm.weight": [16],
    "model.layers.0.self_attn.q_proj.weight": [16, 16],
    "model.layers.0.mlp.down_proj.weight": [16, 40],
    "model.norm.weight": [16],
}
# Spread of each fine-tune around the base: large for two matrices so SLERP takes its spherical branch there,
# small elsewhere (nearly colinear: SLERP falls back to linear interpolation, as in mergekit).
SPREAD = {"model.embed_tokens.weight": 0.03, "model.layers.0.self_attn.q_proj.weight": 0.05}

TASK_SPECS = {
    "task_arithmetic": dict(sparsify=None, consensus=False, normalize=False, rescale="none"),
    "ties": dict(sparsify="magnitude", consensus=True, normalize=True, rescale="none"),
    "dare_linear": dict(sparsify="random", consensus=False, normalize=False, rescale="density"),
    "dare_ties": dict(sparsify="random", consensus=True, normalize=False, rescale="density"),
    "breadcrumbs": dict(sparsify="outliers", consensus=False, normalize=False, rescale="none"),
    "breadcrumbs_ties": dict(sparsify="outliers", consensus=True, normalize=False, rescale="none"),
    "della": dict(sparsify="della", consensus=True, normalize=True, rescale="l1"),
    "della_linear": dict(sparsify="della", consensus=False, normalize=False, rescale="l1"),
}


def model(name, **parameters):
    return {"model": name, "parameters": parameters} if parameters else {"model": name}


CASES = {
    "linear": {"merge_method": "linear", "models": [model("a", weight=0.5), model("b", weight=0.3), model("c", weight=0.2)]},
    "linear_unnormalized": {"merge_method": "linear", "models": [model("a", weight=1.0), model("b", weight=0.5)],
                            "parameters": {"normalize": False}},
    "slerp": {"merge_method": "slerp", "base_model": "a", "models": [model("a"), model("b")], "parameters": {"t": 0.3}},
    "slerp_first_model": {"merge_method": "slerp", "models": [model("b"), model("c")], "parameters": {"t": 0.75}},
    "task_arithmetic": {"merge_method": "task_arithmetic", "base_model": "base",
                        "models": [model("a", weight=1.0), model("b", weight=0.5), model("c", weight=-0.3)],
                        "parameters": {"lambda": 0.8}},
    "task_arithmetic_normalized": {"merge_method": "task_arithmetic", "base_model": "base",
                                   "models": [model("base"), model("a", weight=0.6), model("b", weight=0.4)],
                                   "parameters": {"normalize": True}},
    "ties": {"merge_method": "ties", "base_model": "base",
             "models": [model("a", weight=1.0, density=0.7), model("b", weight=0.6, density=0.5),
                        model("c", weight=0.8, density=0.9)]},
    "ties_unnormalized": {"merge_method": "ties", "base_model": "base",
                          "models": [model("a", weight=1.0), model("b", weight=-0.5), model("c", weight=0.7)],
                          "parameters": {"normalize": False, "lambda": 1.5, "density": 0.3}},
    "ties_rescale_l1": {"merge_method": "ties", "base_model": "base",
                        "models": [model("a", weight=0.5), model("b", weight=0.5)],
                        "parameters": {"density": 0.4, "rescale": "l1"}},
    "dare_linear": {"merge_method": "dare_linear", "base_model": "base", "seed": 42,
                    "models": [model("a", weight=0.5, density=0.6), model("b", weight=0.3, density=0.8),
                               model("c", weight=0.2, density=0.5)]},
    "dare_linear_normalized": {"merge_method": "dare_linear", "base_model": "base", "seed": 3,
                               "models": [model("a", weight=1.0), model("c", weight=1.0)],
                               "parameters": {"density": 0.5, "rescale": False, "normalize": True}},
    "dare_ties": {"merge_method": "dare_ties", "base_model": "base", "seed": 7,
                  "models": [model("a", weight=1.0, density=0.6), model("b", weight=0.7, density=0.4),
                             model("c", weight=0.9, density=0.8)],
                  "parameters": {"lambda": 1.2}},
    "dare_ties_rescale_l1": {"merge_method": "dare_ties", "base_model": "base", "seed": 7,
                             "models": [model("a", weight=1.0), model("b", weight=0.7), model("c", weight=0.9)],
                             "parameters": {"density": 0.5, "rescale": "l1", "normalize": True}},
    "breadcrumbs": {"merge_method": "breadcrumbs", "base_model": "base",
                    "models": [model("a", weight=1.0, density=0.7, gamma=0.1), model("b", weight=0.5, density=0.5),
                               model("c", weight=0.8, density=0.9, gamma=0.05)],
                    "parameters": {"gamma": 0.02}},
    "breadcrumbs_ties": {"merge_method": "breadcrumbs_ties", "base_model": "base",
                         "models": [model("a", weight=1.0), model("b", weight=-0.6), model("c", weight=0.7)],
                         "parameters": {"density": 0.6, "gamma": 0.08, "normalize": True, "lambda": 1.3}},
    "sce": {"merge_method": "sce", "base_model": "base", "models": [model("a"), model("b"), model("c")],
            "parameters": {"select_topk": 0.4}},
    "sce_all": {"merge_method": "sce", "base_model": "base", "models": [model("base"), model("a"), model("b")]},
    "model_stock": {"merge_method": "model_stock", "base_model": "base", "models": [model("a"), model("b"), model("c")]},
    "model_stock_filter_wise": {"merge_method": "model_stock", "base_model": "base",
                                "models": [model("a"), model("b"), model("c")], "parameters": {"filter_wise": True}},
    "model_stock_opposite": {"merge_method": "model_stock", "base_model": "base", "models": [model("a"), model("d")]},
    "della": {"merge_method": "della", "base_model": "base", "seed": 11,
              "models": [model("a", weight=1.0, density=0.6, epsilon=0.2), model("b", weight=0.7, density=0.4),
                         model("c", weight=0.9, density=0.7)],
              "parameters": {"epsilon": 0.1}},
    "della_linear": {"merge_method": "della_linear", "base_model": "base", "seed": 5,
                     "models": [model("a", weight=0.5), model("b", weight=0.3), model("c", weight=0.2)],
                     "parameters": {"density": 0.5, "lambda": 1.1}},
}


def make_inputs():
    rng = np.random.default_rng(20240119)
    inputs = {}
    for name, shape in SHAPES.items():
        is_norm = len(shape) == 1
        base = (1 + 0.05 * rng.standard_normal(shape)) if is_norm else 0.02 * rng.standard_normal(shape)
        inputs[f"base/{name}"] = base.astype(np.float32)
        spread = 0.01 if is_norm else SPREAD.get(name, 0.004)
        for m in "abc":
            tuned = base + spread * rng.standard_normal(shape)
            if m == "c" and name == "model.norm.weight":
                tuned = base  # an untouched tensor: a zero task vector (no sign, L1 rescale skipped)
            inputs[f"{m}/{name}"] = tuned.astype(np.float32)
        # d moves exactly against a: Model Stock's ratio has no finite value for the pair (a, d).
        inputs[f"d/{name}"] = (2 * inputs[f"base/{name}"].astype(np.float64) - inputs[f"a/{name}"]).astype(np.float32)
    return inputs


def resolve(case):
    """The recipe's parameters with mergekit's defaults, as the Swift parser applies them."""
    method = case["merge_method"]
    glob = case.get("parameters", {})
    entries = []
    for index, entry in enumerate(case["models"]):
        p = {**{k: v for k, v in glob.items() if k in ("weight", "density", "gamma", "epsilon")}, **entry.get("parameters", {})}
        entries.append((index, entry["model"], p.get("weight"), p.get("density", 1.0), p.get("gamma", 0.01)))
    return method, glob, entries


def epsilons(case):
    """DELLA's epsilon per model index (mergekit's default 0.15)."""
    glob = case.get("parameters", {})
    return {i: {**glob, **entry.get("parameters", {})}.get("epsilon", 0.15) for i, entry in enumerate(case["models"])}


def rescale_name(value, default):
    if value is None:
        return default
    if value is True:
        return "density"
    if value is False:
        return "none"
    return value


def reference(case, inputs, name):
    method, glob, entries = resolve(case)
    get = lambda m: inputs[f"{m}/{name}"]
    if method == "linear":
        return linear([get(m) for _, m, _, _, _ in entries], [w for _, _, w, _, _ in entries], glob.get("normalize", True))
    if method == "slerp":
        names = list(dict.fromkeys(([case["base_model"]] if "base_model" in case else []) + [m for _, m, _, _, _ in entries]))
        assert len(names) == 2
        return slerp(glob["t"], get(names[0]), get(names[1]))
    base = case["base_model"]
    if method == "sce":
        return sce(get(base), [get(m) for _, m, _, _, _ in entries if m != base], glob.get("select_topk", 1.0))
    if method == "model_stock":
        return model_stock(get(base), [get(m) for _, m, _, _, _ in entries if m != base], glob.get("filter_wise", False))
    defaults = TASK_SPECS[method]
    spec = dict(defaults, normalize=glob.get("normalize", defaults["normalize"]), seed=case.get("seed", 0),
                rescale=rescale_name(glob.get("rescale"), defaults["rescale"]), **{"lambda": glob.get("lambda", 1.0)},
                gamma={i: g for i, _, _, _, g in entries}, epsilon=epsilons(case))
    models = [(i, get(m), w, d) for i, m, w, d, _ in entries if m != base]
    return task_vector_merge(name, get(base), models, spec)


# ---------------------------------------------------------------------------------------------------------
# The same cases through mergekit's own code, when it is installed.


@contextlib.contextmanager
def bernoulli_from(masks):
    import torch

    original, queue = torch.bernoulli, list(masks)

    def replay(probabilities, *args, **kwargs):
        mask = queue.pop(0)
        if isinstance(mask, tuple):  # (mask, the odds it was drawn with)
            mask, odds = mask
            assert np.abs(probabilities.double().numpy() - odds).max() < 1e-6, "mergekit's keep odds differ from ours"
        assert mask.shape == probabilities.shape
        return mask.to(probabilities.dtype)

    torch.bernoulli = replay
    try:
        yield
    finally:
        torch.bernoulli = original
        assert not queue, "mergekit drew fewer masks than expected"


def mergekit_value(case, inputs, name):
    import torch
    from mergekit.merge_methods import registry
    from mergekit.merge_methods.base import TensorGroup
    from mergekit.merge_methods.slerp import slerp as mk_slerp

    method, glob, entries = resolve(case)
    if method in ("sce", "model_stock"):
        base = case["base_model"]
        others = [m for _, m, _, _, _ in entries if m != base]
        group = TensorGroup.from_tensors([torch.from_numpy(inputs[f"{m}/{name}"]) for m in [base] + others], base_index=0)
        params = ({"select_topk": glob.get("select_topk", 1.0), "int8_mask": False} if method == "sce"
                  else {"filter_wise": glob.get("filter_wise", False)})
        return registry.get(method).merge_group(group, **params).numpy()
    gammas = {i: g for i, _, _, _, g in entries}
    if method.startswith("breadcrumbs") and any(int(g * inputs[f"base/{name}"].size) == 0 for g in gammas.values()):
        return None  # mergekit zeroes a tensor whose int(gamma·n) is 0 (see outlier_mask): not comparable there
    entries = [e[:4] for e in entries]
    get = lambda m: torch.from_numpy(inputs[f"{m}/{name}"])
    if method == "linear":
        from mergekit.merge_methods.base import TensorBatch
        from mergekit.merge_methods.linear import linear_merge

        tensors = [get(m) for _, m, _, _ in entries]
        batch = TensorBatch(tuple(t.unsqueeze(0) for t in tensors))  # mergekit's leading output axis
        weights = torch.tensor([[w for _, _, w, _ in entries]])
        return linear_merge.merge_batch(batch, weight=weights, normalize=glob.get("normalize", True))[0].numpy()
    if method == "slerp":
        names = list(dict.fromkeys(([case["base_model"]] if "base_model" in case else []) + [m for _, m, _, _ in entries]))
        v0, v1 = get(names[0]), get(names[1])
        return mk_slerp(torch.tensor([glob["t"]]), v0.reshape(1, -1), v1.reshape(1, -1)).reshape(v0.shape).numpy()
    defaults = TASK_SPECS[method]
    rescale = rescale_name(glob.get("rescale"), defaults["rescale"])
    base = case["base_model"]
    models = [(i, m, w, d) for i, m, w, d in entries if m != base]
    masks = []
    if defaults["sparsify"] == "random":
        for i, m, _, d in models:
            if d < 1:
                keep = drop_keep_mask(case.get("seed", 0), i, name, get(m).numel(), d).reshape(get(m).shape)
                # mergekit's rescale=True matches L1 norms; DARE's 1/density is fed in through the mask itself.
                masks.append(torch.from_numpy(keep / d if rescale == "density" else keep).float())
    eps = epsilons(case)
    if defaults["sparsify"] == "della":
        for i, m, _, d in models:
            if d < 1:
                d32 = get(m).numpy() - get(base).numpy()
                keep = della_keep_mask(case.get("seed", 0), i, name, d32, d, eps[i])
                # mergekit asks for the same odds (in float32): replay checks them before handing back our draw.
                rows = keep.reshape(1, -1) if keep.ndim == 1 else keep
                probs = della_keep_probabilities(d32, d, eps[i])
                masks.append((torch.from_numpy(rows).float(), probs.reshape(rows.shape)))
    group = TensorGroup.from_tensors([get(base)] + [get(m) for _, m, _, _ in models], base_index=0)
    ids = range(1, len(models) + 1)
    params = {
        "weight": {k: w for k, (_, _, w, _) in zip(ids, models)},
        "density": {k: d for k, (_, _, _, d) in zip(ids, models)},
        **({"gamma": {k: gammas[i] for k, (i, _, _, _) in zip(ids, models)}} if method.startswith("breadcrumbs") else {}),
        **({"epsilon": {k: eps[i] for k, (i, _, _, _) in zip(ids, models)}} if method.startswith("della") else {}),
        "normalize": glob.get("normalize", defaults["normalize"]),
        "rescale": rescale == "l1",
        "lambda": glob.get("lambda", 1.0),
        "int8_mask": False,
    }
    with bernoulli_from(masks):
        return registry.get(method).merge_group(group, **params).numpy()


def main():
    os.makedirs(OUT, exist_ok=True)
    inputs = make_inputs()
    expected, cases = {}, {}
    try:
        import mergekit  # noqa: F401
        have_mergekit = True
    except ImportError:
        have_mergekit = False
        print("mergekit not importable: writing the numpy reference without the cross-check")
    for case_name, case in CASES.items():
        worst = None
        for name in SHAPES:
            value = reference(case, inputs, name)
            expected[f"{case_name}/{name}"] = value.astype(np.float32)
            if have_mergekit:
                theirs = mergekit_value(case, inputs, name)
                if theirs is not None:
                    rel = float(np.abs(theirs - value).max() / np.abs(value).max())
                    worst = rel if worst is None else max(worst, rel)
        cases[case_name] = {"recipe": case, "mergekit_max_relative_difference": worst}
        print(f"{case_name:28s} mergekit max rel diff: {worst if worst is not None else 'n/a'}")
        if worst is not None:
            assert worst < 1e-5, f"{case_name}: the numpy reference disagrees with mergekit ({worst})"
    rng = SplitMix64(42 ^ fnv1a64(b"0:model.norm.weight"))
    draws = {"seed": 42, "model_index": 0, "tensor": "model.norm.weight",
             "fnv1a64": str(fnv1a64(b"0:model.norm.weight")), "first_draws": [str(rng.next()) for _ in range(4)]}
    save_file(inputs, os.path.join(OUT, "inputs.safetensors"))
    save_file(expected, os.path.join(OUT, "expected.safetensors"))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"tensors": SHAPES, "models": ["base", "a", "b", "c"], "cases": cases, "drop_stream": draws,
                   "mergekit": "0.1.5" if have_mergekit else None}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""GGUF fixtures for the Swift GGUF reader, with expected values from the Python `gguf` package.

Writes, under Tests/Fixtures/gguf/:
  types.gguf            metadata of every GGUF value type (nested arrays, arrays of strings, 64-bit
                        extremes, empty and non-ASCII strings), general.alignment = 64, and one small
                        tensor per ggml type fusellm dequantizes (F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1
                        Q2_K Q3_K Q4_K Q5_K Q6_K) plus larger Q8_0/Q4_1 ones (split over two threads),
                        1-D and 3-D tensors, and an IQ2_XXS tensor fusellm must refuse to dequantize.
  types.json            the metadata (every scalar as a string: integers in decimal, floats as IEEE bit
                        patterns), the tensor infos and data offset as gguf.GGUFReader reads them.
  types-expected.safetensors
                        every dequantizable tensor as F32, from gguf.quants.dequantize on the bytes
                        gguf.GGUFReader reads back from types.gguf (the two big ones only as an FNV-1a
                        hash of their f32 bytes, in types.json).
  minimal.gguf/.json    default alignment (no general.alignment), two tiny tensors.
  smollm2-q4_1.json     when checkpoints/SmolLM2-135M-Instruct.Q4_1.gguf exists: counts, a few metadata
                        values and tensor infos, and a few hundred dequantized values (as f32 bit patterns)
                        of token_embd.weight (Q8_0), blk.0.attn_q.weight (Q4_1) and blk.0.attn_norm.weight
                        (F32). Left as is when the model is absent.

Quantized bytes come from gguf.quants.quantize where the package implements it (Q8_0, Q4_0, Q4_1, Q5_0,
Q5_1, BF16); for the K-quants (no quantizer in the package) blocks are random bytes with finite f16
scales. Fixed seeds: re-running reproduces the files byte for byte.

Needs: pip install gguf numpy safetensors
"""
import json
import os
import pathlib
import struct

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V
from gguf.quants import quantize, dequantize
from safetensors.numpy import save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "gguf"
MODEL = ROOT / "checkpoints" / "SmolLM2-135M-Instruct.Q4_1.gguf"


# --- metadata ---------------------------------------------------------------------------------------

def f32(x: float) -> float:
    return float(np.float32(x))


# key -> (type, value, element type for arrays)
METADATA = [
    ("test.uint8", V.UINT8, 200, None),
    ("test.int8", V.INT8, -100, None),
    ("test.uint16", V.UINT16, 60000, None),
    ("test.int16", V.INT16, -30000, None),
    ("test.uint32", V.UINT32, 4_000_000_000, None),
    ("test.int32", V.INT32, -2_000_000_000, None),
    ("test.float32", V.FLOAT32, f32(3.14159), None),
    ("test.float32.tiny", V.FLOAT32, f32(1e-5), None),
    ("test.bool.true", V.BOOL, True, None),
    ("test.bool.false", V.BOOL, False, None),
    ("test.string", V.STRING, "héllo wörld ✓ 🦙 \"quoted\"\n", None),
    ("test.string.empty", V.STRING, "", None),
    ("test.uint64", V.UINT64, 12_345_678_901_234, None),
    ("test.uint64.max", V.UINT64, 2**64 - 1, None),
    ("test.int64", V.INT64, -(2**62) - 7, None),
    ("test.float64", V.FLOAT64, 2.718281828459045, None),
    ("test.array.uint8", V.ARRAY, [0, 1, 255], V.UINT8),
    ("test.array.int8", V.ARRAY, [-128, 0, 127], V.INT8),
    ("test.array.uint16", V.ARRAY, [0, 65535], V.UINT16),
    ("test.array.int16", V.ARRAY, [-32768, 32767], V.INT16),
    ("test.array.uint32", V.ARRAY, [7, 4_294_967_295], V.UINT32),
    ("test.array.int32", V.ARRAY, [-5, 0, 5, 2_147_483_647], V.INT32),
    ("test.array.uint64", V.ARRAY, [0, 2**63 + 5], V.UINT64),
    ("test.array.int64", V.ARRAY, [-(2**63), 2**63 - 1], V.INT64),
    ("test.array.float32", V.ARRAY, [f32(0.5), f32(-1e-3), f32(65504.0)], V.FLOAT32),
    ("test.array.float64", V.ARRAY, [0.1, -2.5e300], V.FLOAT64),
    ("test.array.bool", V.ARRAY, [True, False, True], V.BOOL),
    ("test.array.string", V.ARRAY, ["<s>", "", "Ġthe", "日本語", "a b"], V.STRING),
    ("test.array.nested", V.ARRAY, [[1, 2, 3], [4], [5, 6]], V.ARRAY),
    ("test.array.nested.string", V.ARRAY, [["a", "bc"], ["déf"]], V.ARRAY),
    ("test.block_count", V.UINT32, 30, None),
]


def element_type(value) -> V:
    """What GGUFWriter writes for the items of a nested array (GGUFValueType.get_type)."""
    return V.get_type(value)


def encode(vtype: V, value, sub_type=None):
    """JSON for one value: scalars as strings so 64-bit integers and float bits survive JSON."""
    if vtype == V.ARRAY:
        et = sub_type if sub_type is not None else element_type(value[0])
        items = []
        for item in value:
            inner = element_type(item[0]) if et == V.ARRAY else None
            items.append(encode(et, item, inner))
        return {"type": "ARRAY", "value": items}
    if vtype == V.FLOAT32:
        text = "0x%08x" % struct.unpack("<I", struct.pack("<f", value))[0]
    elif vtype == V.FLOAT64:
        text = "0x%016x" % struct.unpack("<Q", struct.pack("<d", value))[0]
    elif vtype == V.BOOL:
        text = "true" if value else "false"
    elif vtype == V.STRING:
        text = value
    else:
        text = str(int(value))
    return {"type": vtype.name, "value": text}


def flatten(value):
    if isinstance(value, list):
        return [x for item in value for x in flatten(item)]
    return [value]


def check_metadata(reader: gguf.GGUFReader, entries):
    """The written metadata reads back identically with gguf.GGUFReader (nested arrays flattened,
    as the reader has them)."""
    for key, vtype, value, sub_type in entries:
        field = reader.fields[key]
        assert field.types[0] == vtype, (key, field.types)
        got = field.contents()
        want = flatten(value) if vtype == V.ARRAY else value
        if vtype == V.ARRAY and sub_type == V.ARRAY:
            got = [field.parts[i].tobytes().decode() if field.types[-1] == V.STRING else field.parts[i].tolist()[0]
                   for i in field.data]
        assert got == want, (key, got, want)


# --- tensors ----------------------------------------------------------------------------------------

def random_k_blocks(rng, qtype: T, n_blocks: int) -> np.ndarray:
    """Random K-quant blocks whose f16 scales are finite and of a plausible size."""
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)

    def put_f16(offset, low, high):
        values = rng.uniform(low, high, size=n_blocks).astype(np.float16)
        raw[:, offset:offset + 2] = values.view(np.uint8).reshape(n_blocks, 2)

    if qtype == T.Q2_K:            # scales[16] qs[64] d dmin
        put_f16(80, 0.001, 0.05); put_f16(82, 0.0005, 0.02)
    elif qtype == T.Q3_K:          # hmask[32] qs[64] scales[12] d
        put_f16(108, -0.02, 0.02)
    elif qtype == T.Q4_K or qtype == T.Q5_K:   # d dmin scales[12] ...
        put_f16(0, 0.0005, 0.01); put_f16(2, 0.0001, 0.005)
    elif qtype == T.Q6_K:          # ql[128] qh[64] scales[16] d
        put_f16(208, -0.005, 0.005)
    else:
        raise ValueError(qtype)
    return raw


def add_quantized(writer, name, rng, qtype: T, rows: int, cols: int):
    if qtype in (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K):
        block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
        blocks = random_k_blocks(rng, qtype, rows * cols // block_size)
        raw = blocks.reshape(rows, cols // block_size * type_size)
    else:
        data = rng.standard_normal((rows, cols)).astype(np.float32) * 0.05
        data[0, :5] = [0.0, -0.0, 1.0, -1.0, 0.0]      # exact zeros and a constant-ish start
        raw = quantize(data, qtype)
    writer.add_tensor(name, raw, raw_dtype=qtype)


def write_types(path: pathlib.Path):
    rng = np.random.default_rng(20240611)
    writer = gguf.GGUFWriter(str(path), arch="test")
    writer.add_custom_alignment(64)
    for key, vtype, value, sub_type in METADATA:
        writer.add_key_value(key, value, vtype, sub_type=sub_type)

    writer.add_tensor("f32", rng.standard_normal((2, 512)).astype(np.float32))
    f16 = (rng.standard_normal((2, 512)) * 3).astype(np.float16)
    # ±0, ±inf, a quiet NaN, the largest finite, the smallest normal and subnormals.
    f16.view(np.uint16)[0, :10] = [0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x7BFF, 0x0400, 0x0001, 0x83FF, 0x3C00]
    writer.add_tensor("f16", f16)
    bf16_source = rng.standard_normal((2, 512)).astype(np.float32)
    bf16_source[0, :6] = [0.0, -0.0, np.inf, -np.inf, 3.0e38, 1.0e-40]
    writer.add_tensor("bf16", quantize(bf16_source, T.BF16), raw_dtype=T.BF16)
    for qtype in (T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K):
        add_quantized(writer, qtype.name.lower(), rng, qtype, 2, 512)
    # Enough blocks that GGUFFile.dequantize splits them over two threads.
    add_quantized(writer, "q8_0.big", rng, T.Q8_0, 32, 1024)
    add_quantized(writer, "q4_1.big", rng, T.Q4_1, 32, 1024)
    writer.add_tensor("vector", rng.standard_normal(7).astype(np.float32))          # 1-D, 28 bytes: padding
    writer.add_tensor("cube", rng.standard_normal((2, 3, 32)).astype(np.float32))   # dims [32, 3, 2]
    iq = rng.integers(0, 256, size=(1, gguf.GGML_QUANT_SIZES[T.IQ2_XXS][1]), dtype=np.uint8)
    writer.add_tensor("unsupported.iq2_xxs", iq, raw_dtype=T.IQ2_XXS)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_minimal(path: pathlib.Path):
    rng = np.random.default_rng(7)
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_block_count(2)
    writer.add_tensor("a", rng.standard_normal(5).astype(np.float32))
    writer.add_tensor("b", rng.standard_normal((3, 32)).astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def describe(reader: gguf.GGUFReader, entries, path: pathlib.Path):
    """The file as gguf.GGUFReader sees it, plus the metadata as written."""
    tensors = []
    for t in reader.tensors:
        tensors.append({
            "name": t.name,
            "dimensions": [int(d) for d in t.shape],   # GGUF order, ne0 first
            "type": t.tensor_type.name,
            "offset": int(t.data_offset - reader.data_offset),
            "elements": int(t.n_elements),
            "bytes": int(t.n_bytes),
        })
    metadata_keys = [k for k in reader.fields if not k.startswith("GGUF.")]
    return {
        "version": int(reader.fields["GGUF.version"].contents()),
        "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset),
        "file_size": path.stat().st_size,
        "metadata_keys": metadata_keys,
        "metadata": {key: encode(vtype, value, sub_type) for key, vtype, value, sub_type in entries},
        "tensors": tensors,
    }


def expected_values(reader: gguf.GGUFReader) -> dict[str, np.ndarray]:
    out = {}
    for t in reader.tensors:
        if t.tensor_type.name.startswith("IQ"):
            continue
        values = dequantize(np.asarray(t.data), t.tensor_type).astype(np.float32)
        out[t.name] = np.ascontiguousarray(values.reshape(-1))
    return out


def fnv1a64(data: bytes) -> str:
    """FNV-1a, 64-bit, of the little-endian f32 bytes: the big tensors' expected values in 16 characters."""
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def smollm2_reference():
    reader = gguf.GGUFReader(str(MODEL))
    rng = np.random.default_rng(135)
    result = {
        "file": MODEL.name,
        "file_size": MODEL.stat().st_size,
        "tensor_count": len(reader.tensors),
        "data_offset": int(reader.data_offset),
        "block_count": int(reader.fields["llama.block_count"].contents()),
        "token_count": len(reader.fields["tokenizer.ggml.tokens"].data),
        "first_tokens": reader.fields["tokenizer.ggml.tokens"].contents(slice(0, 20)),
        "last_token": reader.fields["tokenizer.ggml.tokens"].contents(-1),
        "first_merges": reader.fields["tokenizer.ggml.merges"].contents(slice(0, 10)),
        "rms_epsilon_bits": "0x%08x" % np.float32(reader.fields["llama.attention.layer_norm_rms_epsilon"].contents()).view(np.uint32),
        "tensors": {},
    }
    for name in ("token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_norm.weight", "output_norm.weight"):
        t = next(t for t in reader.tensors if t.name == name)
        values = dequantize(np.asarray(t.data), t.tensor_type).astype(np.float32).reshape(-1)
        n = values.size
        picks = sorted(set(range(0, min(n, 96))) | set(range(n // 2 - 32, n // 2 + 32))
                       | set(range(max(0, n - 64), n)) | set(int(i) for i in rng.integers(0, n, size=128)))
        result["tensors"][name] = {
            "type": t.tensor_type.name,
            "dimensions": [int(d) for d in t.shape],
            "offset": int(t.data_offset - reader.data_offset),
            "indices": picks,
            "bits": [int(values[i].view(np.uint32)) for i in picks],
            "sum": float(values.astype(np.float64).sum()),
        }
    return result


def main():
    OUT.mkdir(parents=True, exist_ok=True)

    path = OUT / "types.gguf"
    write_types(path)
    reader = gguf.GGUFReader(str(path))
    entries = [("general.architecture", V.STRING, "test", None), ("general.alignment", V.UINT32, 64, None)] + METADATA
    check_metadata(reader, entries)
    description = describe(reader, entries, path)
    values = expected_values(reader)
    description["fnv1a64"] = {name: fnv1a64(v.astype("<f4").tobytes()) for name, v in values.items()}
    (OUT / "types.json").write_text(json.dumps(description, indent=1, ensure_ascii=False) + "\n")
    # The big tensors are checked through their hash only, keeping the fixtures small.
    save_file({k: v for k, v in values.items() if not k.endswith(".big")}, str(OUT / "types-expected.safetensors"))
    os.chmod(OUT / "types-expected.safetensors", 0o644)

    path = OUT / "minimal.gguf"
    write_minimal(path)
    reader = gguf.GGUFReader(str(path))
    entries = [("general.architecture", V.STRING, "llama", None), ("llama.block_count", V.UINT32, 2, None)]
    check_metadata(reader, entries)
    description = describe(reader, entries, path)
    description["values"] = {name: [int(x) for x in v.view(np.uint32)] for name, v in expected_values(reader).items()}
    (OUT / "minimal.json").write_text(json.dumps(description, indent=1) + "\n")

    if MODEL.exists():
        (OUT / "smollm2-q4_1.json").write_text(json.dumps(smollm2_reference(), ensure_ascii=False) + "\n")
    else:
        print(f"{MODEL} is absent (bash scripts/fetch-models.sh): smollm2-q4_1.json left as is")

    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT.relative_to(ROOT)}: {', '.join(sorted(p.name for p in OUT.iterdir()))} ({total} bytes)")


if __name__ == "__main__":
    main()

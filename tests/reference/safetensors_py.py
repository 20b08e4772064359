# safetensors_py.py: a tiny, independent safetensors writer and reader in plain Python (json +
# struct), used by the fixture scripts in this folder. It follows the published format, not our C++
# code: u64 little-endian header length, a JSON header, then the raw little-endian tensor bytes.
# (The Python `safetensors` package is not available on the build machines, hence this file.)
#
# The writer lays files out the way the reference library does: "__metadata__" first, tensors
# ordered by element size (largest first) then name, compact JSON, header padded with spaces so the
# data section starts 8-byte aligned.
import json
import struct

# Element size of each dtype string of the format.
DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
}


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def write(path, tensors, metadata=None):
    """tensors: {name: (dtype_str, shape list, raw little-endian bytes)}."""
    order = sorted(tensors, key=lambda k: (-DTYPE_SIZES[tensors[k][0]], k))
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name in order:
        dtype, shape, raw = tensors[name]
        assert len(raw) == numel(shape) * DTYPE_SIZES[dtype], name
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            f.write(tensors[name][2])


def read(path):
    """Returns ({name: (dtype_str, shape, raw bytes)}, metadata); checks the spans tile the data."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    out, pos = {}, 0
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        b, end = e["data_offsets"]
        assert b == pos and end - b == numel(e["shape"]) * DTYPE_SIZES[e["dtype"]], name
        out[name] = (e["dtype"], e["shape"], data[b:end])
        pos = end
    assert pos == len(data)
    return out, metadata


def from_torch(t):
    """(dtype_str, shape, bytes) of a CPU torch tensor (float32/64, int32/64, uint8, bool, f16, bf16)."""
    import torch

    names = {torch.float32: "F32", torch.float64: "F64", torch.int32: "I32", torch.int64: "I64",
             torch.uint8: "U8", torch.bool: "BOOL", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.int16: "I16", torch.int8: "I8"}
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        raw = t.view(torch.int16).numpy().tobytes()
    else:
        raw = t.numpy().tobytes()
    return names[t.dtype], list(t.shape), raw

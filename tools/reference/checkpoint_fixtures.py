"""Checkpoints in the formats PSALM's stage-2 inits are published in, written by the real
writers (pickle + numpy, torch.save), for the restricted readers of include/psalm/io/
(pickle_reader.hpp, pickle_checkpoint.hpp, torch_checkpoint.hpp). Nothing is downloaded: the
files have the exact official key names and dtypes at tiny shapes.

Writes tests/fixtures/checkpoints/:
  m2f_swin_b_tiny.pkl        Mask2Former COCO-panoptic Swin-B layout (model_final_54b88a.pkl,
                             spec §7.3): pickle (protocol 4) of {"model": {name: ndarray},
                             "__author__": ...}; Swin-B depths [2, 2, 18, 2] at embed dim 2,
                             window 2; 6 deformable encoder layers; 9 decoder layers;
                             float32 everywhere but relative_position_index (int64)
  m2f_protocol{2,3,4,5}.pkl  one small dict of arrays of many dtypes and layouts (big-endian,
                             Fortran order, non-contiguous, 0-d, empty, numpy scalars) at each
                             pickle protocol (2: `_codecs.encode` bytes; 5: `_frombuffer` with
                             in-band buffers)
  mm_projector.bin           torch.save of the stage-1 projector dict (LLaVA's
                             get_mm_adapter_state: a plain dict, "model.mm_projector.*" keys,
                             bf16 floats, int64 num_batches_tracked) at the tiny swin_conv size
  mm_projector_f32.bin       the same in float32 with the weights of
                             tests/fixtures/projector/swin_conv_eval.safetensors (forward parity)
  torch_dtypes.pt            one tensor of each dtype: f32 f16 bf16 f64 i64 i32 i16 i8 u8 bool
  torch_views.pt             an nn.Module state_dict (OrderedDict with _metadata) plus
                             transposed / sliced / offset / expanded (stride 0) views, two
                             tensors sharing one storage, one tensor object saved twice, a
                             Parameter, a 0-d and an empty tensor, non-tensor entries
  torch_nested.pt            {"model": {...}, "iteration": 7}: the "model" root rule
  stored.zip                 a plain zipfile archive (comment, directory entry) for ZipArchive
and for each <name> a <name>.expected.safetensors (the same tensors, contiguous, same dtype,
written by the safetensors package) and <name>.json ({"names": in file order, "metadata",
"skipped"}). The C++ tests (tests/io/test_checkpoints.cpp) compare every tensor bit for bit.

Also the malformed corpus tests/fixtures/malformed/checkpoints/ (expected.json: file, error
substring, optional "at": the "pickle offset N, opcode X" the message must contain), checked
by tests/io/test_malformed_checkpoints.cpp.

Run: tools/reference/.venv/bin/python tools/reference/checkpoint_fixtures.py
"""
import io
import json
import pathlib
import pickle
import struct
import zipfile

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from projector_fixtures import SwinConv

torch.set_num_threads(1)
ROOT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures"
OUT = ROOT / "checkpoints"
BAD = ROOT / "malformed" / "checkpoints"


# --- Mask2Former Swin-B layout (spec §1.2, §3, §7.3) ---------------------------------------------
def relative_position_index(w):
    coords = np.stack(np.meshgrid(np.arange(w), np.arange(w), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (w - 1)
    return (rel[:, :, 0] * (2 * w - 1) + rel[:, :, 1]).astype(np.int64)


def m2f_layout(C=2, depths=(2, 2, 18, 2), heads=(1, 1, 2, 2), window=2, conv_dim=4, mask_dim=4,
               enc_layers=6, enc_ff=8, enc_heads=1, levels=3, points=2, hidden=4, dec_layers=9,
               dim_ff=8, queries=3, classes=5):
    """[(name, shape or array)] in MaskFormer's state_dict order: backbone (D2SwinTransformer),
    sem_seg_head.pixel_decoder (MSDeformAttnPixelDecoder), sem_seg_head.predictor
    (MultiScaleMaskedTransformerDecoder), criterion.empty_weight."""
    out = []
    lin = lambda p, o, i, bias=True: out.extend([(p + ".weight", (o, i))] + ([(p + ".bias", (o,))] if bias else []))  # noqa: E731
    norm = lambda p, n: out.extend([(p + ".weight", (n,)), (p + ".bias", (n,))])  # noqa: E731
    b = "backbone."
    out.append((b + "patch_embed.proj.weight", (C, 3, 4, 4)))
    out.append((b + "patch_embed.proj.bias", (C,)))
    norm(b + "patch_embed.norm", C)
    dims = [C * 2**s for s in range(4)]
    for s, depth in enumerate(depths):
        d = dims[s]
        for k in range(depth):
            p = f"{b}layers.{s}.blocks.{k}."
            norm(p + "norm1", d)
            out.append((p + "attn.relative_position_bias_table", ((2 * window - 1) ** 2, heads[s])))
            out.append((p + "attn.relative_position_index", relative_position_index(window)))
            lin(p + "attn.qkv", 3 * d, d)
            lin(p + "attn.proj", d, d)
            norm(p + "norm2", d)
            lin(p + "mlp.fc1", 4 * d, d)
            lin(p + "mlp.fc2", d, 4 * d)
        if s < 3:
            lin(f"{b}layers.{s}.downsample.reduction", 2 * d, 4 * d, bias=False)
            norm(f"{b}layers.{s}.downsample.norm", 4 * d)
    for s in range(4):
        norm(f"{b}norm{s}", dims[s])
    p = "sem_seg_head.pixel_decoder."
    for i, cin in enumerate([dims[3], dims[2], dims[1]]):  # input_proj.0 is res5
        out.append((f"{p}input_proj.{i}.0.weight", (conv_dim, cin, 1, 1)))
        out.append((f"{p}input_proj.{i}.0.bias", (conv_dim,)))
        norm(f"{p}input_proj.{i}.1", conv_dim)
    out.append((p + "transformer.level_embed", (levels, conv_dim)))
    for i in range(enc_layers):
        q = f"{p}transformer.encoder.layers.{i}."
        lin(q + "self_attn.sampling_offsets", enc_heads * levels * points * 2, conv_dim)
        lin(q + "self_attn.attention_weights", enc_heads * levels * points, conv_dim)
        lin(q + "self_attn.value_proj", conv_dim, conv_dim)
        lin(q + "self_attn.output_proj", conv_dim, conv_dim)
        norm(q + "norm1", conv_dim)
        lin(q + "linear1", enc_ff, conv_dim)
        lin(q + "linear2", conv_dim, enc_ff)
        norm(q + "norm2", conv_dim)
    out.append((p + "mask_features.weight", (mask_dim, conv_dim, 1, 1)))
    out.append((p + "mask_features.bias", (mask_dim,)))
    out.append((p + "adapter_1.weight", (conv_dim, dims[0], 1, 1)))  # detectron2 Conv2d, no bias, GN
    norm(p + "adapter_1.norm", conv_dim)
    out.append((p + "layer_1.weight", (conv_dim, conv_dim, 3, 3)))
    norm(p + "layer_1.norm", conv_dim)
    p = "sem_seg_head.predictor."
    for kind, attn in (("self", "self_attn"), ("cross", "multihead_attn")):
        for i in range(dec_layers):
            q = f"{p}transformer_{kind}_attention_layers.{i}."
            out.append((q + attn + ".in_proj_weight", (3 * hidden, hidden)))
            out.append((q + attn + ".in_proj_bias", (3 * hidden,)))
            lin(q + attn + ".out_proj", hidden, hidden)
            norm(q + "norm", hidden)
    for i in range(dec_layers):
        q = f"{p}transformer_ffn_layers.{i}."
        lin(q + "linear1", dim_ff, hidden)
        lin(q + "linear2", hidden, dim_ff)
        norm(q + "norm", hidden)
    norm(p + "decoder_norm", hidden)
    out.append((p + "query_feat.weight", (queries, hidden)))
    out.append((p + "query_embed.weight", (queries, hidden)))
    out.append((p + "level_embed.weight", (levels, hidden)))
    lin(p + "class_embed", classes + 1, hidden)
    lin(p + "mask_embed.layers.0", hidden, hidden)
    lin(p + "mask_embed.layers.1", hidden, hidden)
    lin(p + "mask_embed.layers.2", mask_dim, hidden)
    out.append(("criterion.empty_weight", (classes + 1,)))
    return out


def m2f_model(rng):
    model = {}
    for name, spec in m2f_layout():
        if isinstance(spec, np.ndarray):
            model[name] = spec
        else:
            model[name] = rng.standard_normal(spec).astype(np.float32)
    model["criterion.empty_weight"][:] = 1.0
    model["criterion.empty_weight"][-1] = 0.1  # eos_coef
    return model


def small_arrays(rng):
    """Arrays of every dtype and layout the reader handles."""
    base = rng.standard_normal((3, 4)).astype(np.float32)
    return {
        "f32": base,
        "f64_fortran": np.asfortranarray(rng.standard_normal((3, 2))),
        "f16": rng.standard_normal(5).astype(np.float16),
        "f32_big_endian": rng.standard_normal((2, 3)).astype(">f4"),
        "i64": np.arange(-3, 3, dtype=np.int64).reshape(2, 3),
        "i32": np.array([1, -2, 2**31 - 1], dtype=np.int32),
        "i16_big_endian": np.array([1, -2, 300], dtype=">i2"),
        "i8": np.array([-128, 0, 127], dtype=np.int8),
        "u8": np.array([0, 1, 255], dtype=np.uint8),
        "bool": np.array([True, False, True]),
        "strided": base[:, ::2],  # not contiguous: pickled through _reconstruct at every protocol
        "transposed": base.T,     # Fortran-contiguous
        "scalar0d": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "np_scalar": np.float32(-1.25),  # numpy.core.multiarray.scalar
        "nested": {"inner": np.array([7, 8], dtype=np.int64)},
    }


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def save_expected(name, tensors, names, metadata, skipped=()):
    """<name>.expected.safetensors + <name>.json: the tensors as torch saw / wrote them."""
    contiguous = {}
    for k, v in tensors.items():
        if isinstance(v, (np.ndarray, np.generic)):
            a = np.array(v, order="C").astype(np.asarray(v).dtype.newbyteorder("<"))  # keeps 0-d
            v = torch.from_numpy(a.copy())
        contiguous[k] = v.detach().clone().contiguous()
    save_file(contiguous, str(OUT / f"{name}.expected.safetensors"))
    (OUT / f"{name}.json").write_text(json.dumps(
        {"names": list(names), "metadata": metadata, "skipped": list(skipped)}, indent=1) + "\n")


def check_roundtrip(path, expected):
    """torch.load(weights_only=True) / pickle.load reads back exactly what was saved."""
    if path.suffix == ".pkl":
        with open(path, "rb") as f:
            got = flatten(pickle.load(f, encoding="latin1")["model"])
        for k, v in expected.items():
            assert np.array_equal(np.asarray(got[k]), np.asarray(v)), k
    else:
        got = torch.load(path, weights_only=True)
        for k, v in expected.items():
            assert torch.equal(got[k], v), k


def write_pickles(rng):
    model = m2f_model(rng)
    data = {"model": model, "__author__": "Detectron2 Model Zoo (psalm synthetic)"}
    path = OUT / "m2f_swin_b_tiny.pkl"
    path.write_bytes(pickle.dumps(data, protocol=4))
    check_roundtrip(path, model)
    save_expected("m2f_swin_b_tiny", model, list(model), {"__author__": data["__author__"]})

    arrays = small_arrays(rng)
    flat = flatten(arrays)
    meta = {"__author__": "psalm", "matching_heuristics": True, "iteration": 90000, "lr": 0.0001,
            "note": None}
    for protocol in (2, 3, 4, 5):
        path = OUT / f"m2f_protocol{protocol}.pkl"
        path.write_bytes(pickle.dumps({"model": arrays, **meta}, protocol=protocol))
        check_roundtrip(path, flat)
    save_expected("m2f_protocol", flat, list(flat),
                  {"__author__": "psalm", "matching_heuristics": "True", "iteration": "90000",
                   "lr": "0.0001", "note": "None"})


def write_torch(rng):
    gen = torch.Generator().manual_seed(5)
    # The stage-1 projector as LLaVA saves it: a plain dict of the model.mm_projector.* tensors.
    proj = SwinConv(16, 20, 24)
    eval_fixture = load_file(str(ROOT / "projector" / "swin_conv_eval.safetensors"))
    state = proj.state_dict()
    with torch.no_grad():
        for k, v in state.items():
            v.copy_(eval_fixture["model.mm_projector." + k].to(v.dtype))
    f32 = {"model.mm_projector." + k: v.clone() for k, v in state.items()}
    assert all(v.dtype in (torch.float32, torch.int64) for v in f32.values())
    torch.save(f32, OUT / "mm_projector_f32.bin")
    save_expected("mm_projector_f32", f32, list(f32), {})
    bf16 = {k: (v.to(torch.bfloat16) if v.is_floating_point() else v) for k, v in f32.items()}
    torch.save(bf16, OUT / "mm_projector.bin")
    save_expected("mm_projector", bf16, list(bf16), {})

    dtypes = {}
    for dt in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        dtypes[str(dt).split(".")[1]] = torch.randn(2, 3, generator=gen).to(dt)
    dtypes["int64"] = torch.tensor([-(2**62), -1, 0, 2**62], dtype=torch.int64)
    dtypes["int32"] = torch.tensor([-(2**31), 5, 2**31 - 1], dtype=torch.int32)
    dtypes["int16"] = torch.tensor([-300, 7], dtype=torch.int16)
    dtypes["int8"] = torch.tensor([-128, 127], dtype=torch.int8)
    dtypes["uint8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    dtypes["bool"] = torch.tensor([True, False, False, True])
    torch.save(dtypes, OUT / "torch_dtypes.pt")
    save_expected("torch_dtypes", dtypes, list(dtypes), {})

    # Views and shared storages; an nn.Module state_dict is an OrderedDict with _metadata.
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    views = net.state_dict()
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    shared = torch.randn(10, generator=gen)
    same = torch.randn(2, 2, generator=gen, dtype=torch.float64)
    views["transposed"] = base.t()                 # strides (1, 6)
    views["sliced"] = base[1:3, ::2]               # offset 6, strides (6, 2)
    views["row"] = base[2]                         # offset 12
    views["expanded"] = torch.arange(3).expand(4, 3)  # stride 0
    views["shared_a"] = shared[:6].view(2, 3)
    views["shared_b"] = shared[4:]                 # overlaps shared_a
    views["same_1"] = same
    views["same_2"] = same                          # one object saved twice (pickle memo)
    views["parameter"] = nn.Parameter(torch.randn(3, generator=gen))
    views["scalar"] = torch.tensor(3.5)
    views["empty"] = torch.zeros(0, 4)
    views["epoch"] = 12
    views["tags"] = ["a", "b"]
    torch.save(views, OUT / "torch_views.pt")
    tensors = {k: v for k, v in views.items() if isinstance(v, torch.Tensor)}
    save_expected("torch_views", tensors, list(tensors), {"epoch": "12"},
                  ["tags: list of 2 items"])
    loaded = torch.load(OUT / "torch_views.pt", weights_only=True)
    assert all(torch.equal(loaded[k], v) for k, v in tensors.items())

    nested = {"model": {"backbone": {"w": torch.randn(2, 2, generator=gen)},
                        "head.b": torch.randn(3, generator=gen)},
              "iteration": 7}
    torch.save(nested, OUT / "torch_nested.pt")
    save_expected("torch_nested", {"backbone.w": nested["model"]["backbone"]["w"],
                                   "head.b": nested["model"]["head.b"]},
                  ["backbone.w", "head.b"], {"iteration": "7"})

    with zipfile.ZipFile(OUT / "stored.zip", "w") as z:
        z.comment = b"written by zipfile"
        zwrite(z, "top/", b"")
        zwrite(z, "top/a.txt", b"hello")
        zwrite(z, "top/b.bin", bytes(range(256)))


# --- the malformed corpus ------------------------------------------------------------------------
class Evil:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


class Plain:
    pass


def zwrite(z, name, data, method=zipfile.ZIP_STORED):
    """zipfile.writestr with a fixed timestamp, so the fixtures are byte-deterministic."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = method
    z.writestr(info, data)


def torch_zip(pkl, records, name="archive", method=zipfile.ZIP_STORED, byteorder=b"little",
              first=None):
    """A torch.save-like zip: <name>/data.pkl, <name>/byteorder, <name>/data/<key>."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        zwrite(z, first or f"{name}/data.pkl", pkl, method)
        if byteorder is not None:
            zwrite(z, f"{name}/byteorder", byteorder, method)
        zwrite(z, f"{name}/version", b"3\n", method)
        for key, data in records.items():
            zwrite(z, f"{name}/data/{key}", data, method)
    return buf.getvalue()


def tensor_pkl(storage_type="FloatStorage", key="0", numel=4, offset=0, size=(4,), stride=(1,),
               tag="storage", extra_tensors=()):
    """data.pkl of {"w": tensor} written opcode by opcode (protocol 2, as torch.save)."""
    def tup(xs):
        return b"(" + b"".join(b"K" + bytes([x]) if 0 <= x < 256 else b"J" + struct.pack("<i", x) for x in xs) + b"t"

    def tensor(st, k, n, off, sz, sd):
        pid = (b"(X" + struct.pack("<I", len(tag)) + tag.encode() + b"ctorch\n" + st.encode() + b"\n"
               + b"X" + struct.pack("<I", len(k)) + k.encode() + b"X\x03\x00\x00\x00cpu"
               + b"J" + struct.pack("<i", n) + b"tQ")
        return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"J" + struct.pack("<i", off) + tup(sz)
                + tup(sd) + b"\x89ccollections\nOrderedDict\n)RtR")
    body = b"X\x01\x00\x00\x00w" + tensor(storage_type, key, numel, offset, size, stride)
    for i, (st, k, n, off, sz, sd) in enumerate(extra_tensors):
        body += b"X\x01\x00\x00\x00" + bytes([ord("a") + i]) + tensor(st, k, n, off, sz, sd)
    return b"\x80\x02}(" + body + b"u."


def write_malformed():
    BAD.mkdir(parents=True, exist_ok=True)
    for f in BAD.iterdir():
        f.unlink()
    cases = []

    def case(file, data, error, at=None):
        (BAD / file).write_bytes(data)
        c = {"file": file, "error": error}
        if at:
            c["at"] = at
        cases.append(c)

    import os
    arr = np.arange(4, dtype=np.float32)
    good = pickle.dumps({"model": {"w": arr}}, protocol=2)
    case("os_system.pkl", pickle.dumps({"model": Evil(os.system, ("echo pwned",))}, protocol=4),
         "global posix.system is not allowed", "opcode STACK_GLOBAL")
    case("builtins_eval.pkl", pickle.dumps(Evil(eval, ("1+1",)), protocol=2),
         "global __builtin__.eval is not allowed", "pickle offset 2, opcode GLOBAL")
    case("plain_object.pkl", pickle.dumps({"model": Plain()}, protocol=2),
         "global __main__.Plain is not allowed")
    case("newobj.pkl", b"\x80\x02cnumpy\ndtype\n)\x81.",
         "creating class instances is not allowed", "pickle offset 16, opcode NEWOBJ")
    case("protocol0.pkl", pickle.dumps({"model": {}}, protocol=0), "starts with PROTO",
         "pickle offset 0")
    case("protocol1.pkl", pickle.dumps({"model": {}}, protocol=1), "starts with PROTO")
    case("protocol9.pkl", b"\x80\x09}.", "pickle protocol 9 is not supported")
    case("empty.pkl", b"", "the input is empty")
    good3 = pickle.dumps({"model": {"w": arr}}, protocol=3)  # no frames: the bytes are cut
    case("truncated.pkl", good3[:good3.index(arr.tobytes()) + 3],
         "bytes of 16 bytes runs past the end of the input (3 bytes left)", "opcode SHORT_BINBYTES")
    case("no_stop.pkl", good[:-1], "before its STOP")
    case("trailing.pkl", good + b"extra", "5 trailing bytes after the pickle's STOP")
    case("bad_memo.pkl", b"\x80\x02h\x05.", "memo key 5 was never stored",
         "pickle offset 2, opcode BINGET")
    case("stack_empty_at_stop.pkl", b"\x80\x02.", "the stack holds 0 values at STOP")
    case("stack_underflow.pkl", b"\x80\x02]a.", "stack underflow", "opcode APPEND")
    case("mark_underflow.pkl", b"\x80\x02N(0a.", "stack underflow")
    case("open_mark.pkl", b"\x80\x02}(.", "MARK(s) still open at STOP")
    case("huge_string.pkl", b"\x80\x02X\xff\xff\xff\xff", "string of 4294967295 bytes runs past the end",
         "opcode BINUNICODE")
    case("huge_bytes8.pkl", b"\x80\x04\x8e" + struct.pack("<Q", 2**63), "runs past the end",
         "opcode BINBYTES8")
    case("huge_long.pkl", b"\x80\x02\x8b\x00\x00\x00\x80", "does not fit in 64 bits", "opcode LONG4")
    case("bad_utf8.pkl", b"\x80\x04\x8c\x02\xc3\x28.", "not valid UTF-8", "opcode SHORT_BINUNICODE")
    case("truncated_frame.pkl", pickle.dumps({"model": {"w": arr}}, protocol=4)[:60],
         "runs past the end of the input", "opcode FRAME")
    case("frame_too_long.pkl", b"\x80\x04\x95" + struct.pack("<Q", 1000) + b"N.",
         "frame of 1000 bytes runs past the end", "opcode FRAME")
    case("unknown_opcode.pkl", b"\x80\x02\xff.", "not a pickle opcode", "unknown opcode 0xff")
    case("text_int.pkl", b"\x80\x02I42\n.", "text opcodes of protocol 0 are not supported", "opcode INT")
    case("ext_code.pkl", b"\x80\x02\x82\x01.", "extension registry codes are not allowed", "opcode EXT1")
    case("out_of_band.pkl", b"\x80\x05\x97.", "out-of-band buffers are not supported", "opcode NEXT_BUFFER")
    case("not_a_dict.pkl", pickle.dumps([arr, arr], protocol=2), "the pickle holds list of 2 items")
    case("duplicate_key.pkl", b"\x80\x02}(X\x01\x00\x00\x00aNX\x01\x00\x00\x00aNu.",
         "dict key str \"a\" appears twice", "opcode SETITEMS")
    case("list_key.pkl", b"\x80\x02}]Ns.", "dict key list of 0 items is not supported", "opcode SETITEM")
    case("deep_marks.pkl", b"\x80\x02" + b"(" * 5000, "more than 4096 open MARKs", "opcode MARK")
    cyclic = {"w": arr}
    cyclic["self"] = cyclic
    case("cyclic.pkl", pickle.dumps(cyclic, protocol=2), "dict \"self\" is reached twice")
    case("reduce_list.pkl", b"\x80\x02])R.", "REDUCE's callable must be a global", "opcode REDUCE")
    case("torch_global.pkl", b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n.",
         "accepted only inside a PyTorch zip checkpoint", "opcode GLOBAL")
    case("persid.pkl", b"\x80\x02NQ.", "persistent ids occur only in PyTorch checkpoints", "opcode BINPERSID")
    case("object_array.pkl", pickle.dumps({"w": np.array([1, "a"], dtype=object)}, protocol=2),
         "numpy dtype \"O8\" is not supported")
    case("string_array.pkl", pickle.dumps({"w": np.array(["ab"])}, protocol=4),
         "numpy dtype \"U2\" is not supported")
    case("complex128.pkl", pickle.dumps({"w": np.zeros(2, np.complex128)}, protocol=4),
         "numpy dtype \"c16\" is not supported")
    case("structured.pkl", pickle.dumps({"w": np.zeros(2, dtype=[("a", "f4")])}, protocol=4),
         "numpy dtype \"V4\" is not supported")
    fb = lambda data, shape, descr=b"f4": (  # noqa: E731  _frombuffer(data, dtype(descr), shape, "C")
        b"\x80\x05}(X\x01\x00\x00\x00wcnumpy._core.numeric\n_frombuffer\n(\x96" + struct.pack("<Q", len(data)) + data
        + b"cnumpy\ndtype\nX" + struct.pack("<I", len(descr)) + descr + b"\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        + shape + b"X\x01\x00\x00\x00CtRu.")
    case("size_mismatch.pkl", fb(bytes(8), b"K\x0a\x85"),
         "the array's data holds 8 bytes but its shape and dtype F32 need 40", "opcode REDUCE")
    case("negative_extent.pkl", fb(bytes(8), b"J\xff\xff\xff\xff\x85"), "holds a negative value")
    case("huge_extent.pkl", fb(bytes(8), b"(" + b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x3f" * 3 + b"t"),
         "element count overflows")
    case("rank_33.pkl", fb(bytes(4), b"(" + b"K\x01" * 33 + b"t"), "more than 32 (PickleLimits::max_rank)")
    case("unbuilt_array.pkl", b"\x80\x02}(X\x01\x00\x00\x00wcnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
         b"K\x00\x85C\x01b\x87Ru.", "numpy array \"w\" never received its state")
    case("build_twice.pkl", b"\x80\x02}(X\x01\x00\x00\x00wcnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
         b"K\x00\x85C\x01b\x87R(K\x01K\x04\x85cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R\x89C\x10" + bytes(16)
         + b"tq\x01bh\x01bu.", "numpy array state set twice", "opcode BUILD")
    case("codecs_utf8.pkl", b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf-8\x86R.",
         "only latin1", "opcode REDUCE")
    case("codecs_euro.pkl", b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00\xe2\x82\xacX\x06\x00\x00\x00latin1\x86R.",
         "beyond U+00FF", "opcode REDUCE")
    case("global_no_newline.pkl", b"\x80\x02cnumpy", "GLOBAL's module is not terminated", "opcode GLOBAL")
    case("global_too_long.pkl", b"\x80\x02c" + b"m" * 300 + b"\nx\n.", "longer than 256 bytes")
    # torch.save(_use_new_zipfile_serialization=False) starts with these three pickles (its
    # storage keys are addresses, so a real one would differ on every run).
    legacy = b"".join(pickle.dumps(x, protocol=2) for x in (
        0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True,
                                       "type_sizes": {"short": 2, "int": 4, "long": 4}}))
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf, _use_new_zipfile_serialization=False)
    assert buf.getvalue().startswith(legacy[:14])
    case("legacy_torch.pt", legacy, "torch.save's legacy format")

    # torch.save zips
    rec = {"0": np.arange(4, dtype=np.float32).tobytes()}
    valid = torch_zip(tensor_pkl(), rec)
    assert torch.equal(torch.load(io.BytesIO(valid), weights_only=True)["w"], torch.arange(4.0))
    case("zip_compressed.pt", torch_zip(tensor_pkl(), rec, method=zipfile.ZIP_DEFLATED),
         "is compressed (method 8)")
    case("zip_truncated.pt", valid[: len(valid) - 30], "no end-of-central-directory record")
    case("zip_empty.pt", b"PK\x05\x06" + bytes(18), "the zip archive is empty")
    case("zip_not_in_folder.pt", torch_zip(tensor_pkl(), rec, first="data.pkl"), "is not inside a folder")
    case("zip_no_data_pkl.pt", torch_zip(tensor_pkl(), rec, first="archive/other.pkl"),
         "no \"archive/data.pkl\" in the zip archive")
    case("zip_missing_storage.pt", torch_zip(tensor_pkl(), {}), "storage \"0\" has no record \"archive/data/0\"")
    case("zip_short_storage.pt", torch_zip(tensor_pkl(), {"0": bytes(12)}),
         "storage \"0\" of 4 F32 elements needs 16 bytes but its record holds 12")
    corrupt = bytearray(valid)
    at = corrupt.index(rec["0"])
    corrupt[at + 5] ^= 0xFF
    case("zip_bad_crc.pt", bytes(corrupt), "zip entry \"archive/data/0\" is corrupt (CRC-32")
    case("zip_big_endian.pt", torch_zip(tensor_pkl(), rec, byteorder=b"big"), "byte order \"big\" is not supported")
    case("zip_view_out_of_range.pt", torch_zip(tensor_pkl(size=(2, 3), stride=(3, 1)), rec),
         "reaches element 5 of storage \"0\", which holds 4 elements", "opcode REDUCE")
    case("zip_offset_out_of_range.pt", torch_zip(tensor_pkl(offset=4, size=(1,)), rec),
         "reaches element 4 of storage \"0\"")
    case("zip_negative_stride.pt", torch_zip(tensor_pkl(size=(2,), stride=(-1,)), rec),
         "the tensor's stride holds a negative value")
    case("zip_storage_type.pt", torch_zip(tensor_pkl(storage_type="ComplexFloatStorage"), rec),
         "global torch.ComplexFloatStorage is not allowed", "opcode GLOBAL")
    case("zip_storage_conflict.pt",
         torch_zip(tensor_pkl(extra_tensors=[("DoubleStorage", "0", 2, 0, (2,), (1,))]), rec),
         "storage \"0\" is named as 4 F32 elements and as 2 F64 elements")
    case("zip_persid_kind.pt", torch_zip(tensor_pkl(tag="module"), rec),
         "persistent id of kind \"module\" is not supported", "opcode BINPERSID")
    case("zip_os_system.pt", torch_zip(pickle.dumps({"w": Evil(os.system, ("echo",))}, protocol=2), {}),
         "global posix.system is not allowed", "opcode GLOBAL")
    bad_local = bytearray(valid)
    bad_local[0:4] = b"PK\x03\x05"
    case("zip_bad_local_header.pt", bytes(bad_local), "bad local header signature")
    eocd = valid.rindex(b"PK\x05\x06")
    bad_cd = bytearray(valid)
    bad_cd[eocd + 16:eocd + 20] = struct.pack("<I", 0x7FFFFFF0)
    # torch.save writes ZIP64 end records, zipfile does not: the classic record is read here.
    case("zip_cd_out_of_range.pt", bytes(bad_cd), "central directory at offset 2147483632")
    dup = io.BytesIO()
    with zipfile.ZipFile(dup, "w") as z:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zwrite(z, "archive/data.pkl", tensor_pkl())
            zwrite(z, "archive/data.pkl", tensor_pkl())
    case("zip_duplicate_entry.pt", dup.getvalue(), "zip entry \"archive/data.pkl\" appears twice")
    case("zip_bad_pickle.pt", torch_zip(b"\x80\x02}X\x01\x00\x00\x00w", rec),
         "(archive/data.pkl): pickle ends at offset 9 before its STOP")
    (BAD / "expected.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n")
    print(f"malformed/checkpoints: {len(cases)} cases")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(18)
    write_pickles(rng)
    write_torch(rng)
    write_malformed()
    total = sum(f.stat().st_size for f in OUT.iterdir())
    print(f"checkpoints: {len(list(OUT.iterdir()))} files, {total} bytes")


if __name__ == "__main__":
    main()

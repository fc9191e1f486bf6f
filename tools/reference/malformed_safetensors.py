"""Malformed-input corpus for tests/io/test_malformed.cpp: broken safetensors files, broken
model.safetensors.index.json files and broken config JSON files, each listed in an
expected.json manifest with the error substring psalm must produce (and the tensor it must
name, where one is at fault).

Writes tests/fixtures/malformed/{safetensors,index,config}/. Plain Python, no dependencies,
deterministic. Run: python3 tools/reference/malformed_safetensors.py
"""

import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "malformed"


def st_file(header, data: bytes, header_len=None) -> bytes:
    """A safetensors file from a header (dict, or raw str/bytes) and a data area."""
    if isinstance(header, dict):
        text = json.dumps(header, separators=(",", ":")).encode()
    elif isinstance(header, str):
        text = header.encode()
    else:
        text = header
    text += b" " * ((8 - len(text) % 8) % 8)
    n = len(text) if header_len is None else header_len
    return struct.pack("<Q", n) + text + data


def f32(name="w", shape=(2, 2), begin=0, end=None, dtype="F32"):
    size = {"F32": 4, "F64": 8, "BF16": 2, "U8": 1, "BOOL": 1}.get(dtype, 4)
    count = 1
    for e in shape:
        count *= e
    return name, {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, begin + count * size if end is None else end]}


def header(*entries, metadata=None):
    h = {}
    if metadata is not None:
        h["__metadata__"] = metadata
    for name, e in entries:
        h[name] = e
    return h


def safetensors_cases():
    good = st_file(header(f32("a", (2, 2)), f32("b", (3,), begin=16)), bytes(28))
    e = lambda name, shape=(2, 2), **kw: f32(name, shape, **kw)  # noqa: E731
    cases = [
        ("empty.safetensors", b"", "file is too short", None),
        ("truncated_length.safetensors", b"\x10\x00\x00\x00\x00", "file is too short", None),
        ("truncated_header.safetensors", good[:20], "runs past the end", None),
        ("truncated_data.safetensors", good[:-6], "lie outside the data area", "b"),
        ("huge_header_length.safetensors", struct.pack("<Q", 2**63) + b"{}      ", "exceeds the limit", None),
        ("header_length_over_limit.safetensors", struct.pack("<Q", 100_000_001) + b"{}", "exceeds the limit", None),
        ("header_length_beyond_file.safetensors", st_file(header(e("a")), bytes(16), header_len=1000), "runs past the end", None),
        ("zero_header_length.safetensors", struct.pack("<Q", 0) + bytes(16), "invalid JSON", None),
        ("offsets_out_of_range.safetensors", st_file(header(e("a", (4,), begin=0, end=16), e("b", (4,), begin=16, end=32)), bytes(24)), "lie outside the data area", "b"),
        ("offsets_huge.safetensors", st_file(header(e("a", (2,), begin=2**64 - 16, end=2**64 - 8)), bytes(8)), "lie outside the data area", "a"),
        ("overlapping.safetensors", st_file(header(e("a", (4,)), e("b", (4,), begin=8)), bytes(24)), "overlap tensor \"a\"", "b"),
        ("wrong_byte_count.safetensors", st_file(header(e("a", (2, 2), end=12)), bytes(12)), "hold 12 bytes but", "a"),
        ("begin_after_end.safetensors", st_file(header(e("a", (0,), begin=8, end=4)), bytes(8)), "begin 8 > end 4", "a"),
        ("bad_dtype.safetensors", st_file(header(e("a", (2,), dtype="F128")), bytes(8)), "unknown dtype \"F128\"", "a"),
        ("dtype_not_string.safetensors", st_file(header(("a", {"dtype": 4, "shape": [1], "data_offsets": [0, 4]})), bytes(4)), "dtype must be a string", "a"),
        ("missing_dtype.safetensors", st_file(header(("a", {"shape": [1], "data_offsets": [0, 4]})), bytes(4)), "missing \"dtype\"", "a"),
        ("missing_offsets.safetensors", st_file(header(("a", {"dtype": "F32", "shape": [1]})), bytes(4)), "missing \"data_offsets\"", "a"),
        ("offsets_wrong_length.safetensors", st_file(header(("a", {"dtype": "F32", "shape": [1], "data_offsets": [0]})), bytes(4)), "data_offsets must be an array [begin, end]", "a"),
        ("bad_json.safetensors", st_file('{"a": {"dtype": "F32",', bytes(0)), "invalid JSON", None),
        ("invalid_utf8.safetensors", st_file(b'{"\xff\xfe":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', bytes(4)), "invalid JSON", None),
        ("not_an_object.safetensors", st_file("[1, 2, 3]", b""), "header must be a JSON object", None),
        ("entry_not_object.safetensors", st_file('{"a": 5}', b""), "entry must be an object", "a"),
        ("duplicate_names.safetensors", st_file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', bytes(8)), "duplicate key \"a\"", None),
        ("duplicate_field.safetensors", st_file('{"a":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}}', bytes(4)), "duplicate key \"dtype\" in object \"a\"", None),
        ("trailing_bytes.safetensors", st_file(header(e("a")), bytes(20)), "4 trailing bytes", None),
        ("gap.safetensors", st_file(header(e("a", (2,)), e("b", (2,), begin=12)), bytes(20)), "gap of 4 unused bytes", "b"),
        ("gap_at_start.safetensors", st_file(header(e("a", (2,), begin=8)), bytes(16)), "gap of 8 unused bytes", "a"),
        ("negative_shape.safetensors", st_file(header(("a", {"dtype": "F32", "shape": [-1, 2], "data_offsets": [0, 8]})), bytes(8)), "shape[0] is negative", "a"),
        ("non_integer_shape.safetensors", st_file(header(("a", {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]})), bytes(8)), "shape[0] must be a non-negative integer", "a"),
        ("string_shape.safetensors", st_file(header(("a", {"dtype": "F32", "shape": ["2"], "data_offsets": [0, 8]})), bytes(8)), "shape[0] must be a non-negative integer", "a"),
        ("shape_not_array.safetensors", st_file(header(("a", {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]})), bytes(8)), "shape must be an array", "a"),
        ("shape_overflow.safetensors", st_file(header(("a", {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 8]})), bytes(8)), "overflows", "a"),
        ("bytes_overflow.safetensors", st_file(header(("a", {"dtype": "F64", "shape": [2**62], "data_offsets": [0, 8]})), bytes(8)), "byte size of the shape overflows", "a"),
        ("negative_offset.safetensors", st_file(header(("a", {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]})), bytes(4)), "data_offsets[0] is negative", "a"),
        ("metadata_not_strings.safetensors", st_file(header(e("a", (1,)), metadata={"epoch": 3}), bytes(4)), "__metadata__ value of \"epoch\" must be a string", None),
        ("metadata_not_object.safetensors", st_file(header(e("a", (1,)), metadata=["x"]), bytes(4)), "__metadata__ must be an object", None),
        ("bool_bad_byte.safetensors", st_file(header(e("flags", (3,), dtype="BOOL")), bytes([1, 2, 0])), "holds byte 2", "flags"),
    ]
    manifest = []
    for name, data, error, tensor in cases:
        (ROOT / "safetensors" / name).write_bytes(data)
        entry = {"file": name, "error": error}
        if tensor is not None:
            entry["tensor"] = tensor
        if name == "bool_bad_byte.safetensors":
            entry["load"] = "flags"  # opens fine; loading the tensor fails
        manifest.append(entry)
    return manifest


def index_cases():
    d = ROOT / "index"
    good_shard = st_file(header(f32("a", (2,)), f32("b", (2,), begin=8)), bytes(16))
    (d / "shard.safetensors").write_bytes(good_shard)
    (d / "bad_shard.safetensors").write_bytes(st_file(header(f32("c", (1,))), bytes(8)))
    wm = lambda m: json.dumps({"metadata": {"total_size": 16}, "weight_map": m}, indent=2)  # noqa: E731
    cases = [
        ("bad_json.index.json", '{"weight_map": {"a": "shard.safetensors",}}', "invalid JSON"),
        ("not_object.index.json", "[]", "index must be a JSON object"),
        ("missing_weight_map.index.json", '{"metadata": {}}', "missing \"weight_map\""),
        ("weight_map_not_object.index.json", '{"weight_map": ["shard.safetensors"]}', "\"weight_map\" must be an object"),
        ("metadata_not_object.index.json", '{"metadata": 3, "weight_map": {}}', "\"metadata\" must be an object"),
        ("value_not_string.index.json", wm({"a": 1, "b": "shard.safetensors"}), "weight_map entry \"a\" must name a shard file"),
        ("missing_shard.index.json", wm({"a": "nope.safetensors", "b": "nope.safetensors"}), "shard \"nope.safetensors\""),
        ("tensor_not_in_shard.index.json", wm({"a": "shard.safetensors", "b": "shard.safetensors", "z": "shard.safetensors"}), "puts tensor \"z\" in \"shard.safetensors\", which does not hold it"),
        ("unlisted_tensor.index.json", wm({"a": "shard.safetensors"}), "holds tensor \"b\", which weight_map does not list"),
        ("path_traversal.index.json", wm({"a": "../index/shard.safetensors"}), "not a plain relative path"),
        ("absolute_path.index.json", wm({"a": "/etc/passwd"}), "not a plain relative path"),
        ("duplicate_key.index.json", '{"weight_map": {"a": "shard.safetensors", "a": "shard.safetensors"}}', "duplicate key \"a\" in object \"weight_map\""),
        ("malformed_shard.index.json", wm({"c": "bad_shard.safetensors"}), "4 trailing bytes"),
    ]
    manifest = []
    for name, text, error in cases:
        (d / name).write_text(text)
        manifest.append({"file": name, "error": error})
    return manifest


def config_cases():
    d = ROOT / "config"
    base = {"hidden_size": 64, "num_layers": 2, "dropout": 0.1, "name": "tiny", "layer_sizes": [1, 2], "vision": {"patch_size": 4}}

    def with_(**kw):
        c = dict(base)
        for k, v in kw.items():
            if v is ...:
                del c[k]
            else:
                c[k] = v
        return json.dumps(c, indent=2)

    cases = [
        ("empty.json", "", "invalid JSON"),
        ("bad_json.json", '{"hidden_size": 64,, "num_layers": 2}', "invalid JSON"),
        ("trailing_garbage.json", with_() + " x", "invalid JSON"),
        ("not_object.json", "[64, 2]", "the top level must be a JSON object"),
        ("missing_key.json", with_(num_layers=...), "missing required key \"num_layers\""),
        ("null_required.json", with_(hidden_size=None), "required key \"hidden_size\" is null"),
        ("wrong_type_string.json", with_(hidden_size="64"), "key \"hidden_size\" must be an integer, got a string"),
        ("float_for_int.json", with_(num_layers=2.0), "key \"num_layers\" must be an integer, got a floating-point number"),
        ("out_of_range.json", with_(hidden_size=2**40), "key \"hidden_size\" = 1099511627776 is out of range"),
        ("bool_for_number.json", with_(dropout=True), "key \"dropout\" must be a number, got a boolean"),
        ("array_element.json", with_(layer_sizes=[1, "two"]), "key \"layer_sizes[1]\" must be an integer"),
        ("string_for_array.json", with_(layer_sizes="1,2"), "key \"layer_sizes\" must be an array"),
        ("nested_missing.json", with_(vision={}), "missing required key \"vision.patch_size\""),
        ("nested_not_object.json", with_(vision=4), "key \"vision\" must be a JSON object"),
        ("duplicate_key.json", '{"hidden_size": 64, "num_layers": 2, "hidden_size": 128}', "duplicate key \"hidden_size\""),
    ]
    manifest = []
    for name, text, error in cases:
        (d / name).write_text(text)
        manifest.append({"file": name, "error": error})
    return manifest


if __name__ == "__main__":
    for sub, make in (("safetensors", safetensors_cases), ("index", index_cases), ("config", config_cases)):
        (ROOT / sub).mkdir(parents=True, exist_ok=True)
        manifest = make()
        (ROOT / sub / "expected.json").write_text(json.dumps({"cases": manifest}, indent=1) + "\n")
        print(sub, len(manifest), "cases")

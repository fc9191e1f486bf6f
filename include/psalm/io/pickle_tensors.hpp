// psalm/io/pickle_tensors.hpp — the named tensors of an evaluated checkpoint pickle: picks the
// state dict (the top-level dict, or its "model" / "state_dict" entry when that is where all the
// tensors are, as in a Mask2Former .pkl), walks nested dicts joining keys with '.', and turns
// numpy arrays and PyTorch tensors into TensorRecords; top-level scalars become metadata.
// Host code. Depends on: core, io/{pickle_value,tensor_record}. Test:
// tests/io/test_checkpoints.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/pickle_value.hpp"
#include "psalm/io/tensor_record.hpp"

namespace psalm::io {

/// What a checkpoint pickle holds: tensors in dict order, scalar metadata, and descriptions of
/// the entries that are neither.
struct PickledTensors {
  std::vector<TensorRecord> records;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> skipped;
  std::string root;  // "" (the top-level dict), "model" or "state_dict"
};

/// The bytes of a PyTorch storage value (its record in the zip), checked against its size.
using StorageResolver = std::function<std::span<const std::byte>(const PickleNode& storage)>;

/// Deepest nesting of dicts walked below the state dict.
inline constexpr int kMaxPickleDictDepth = 64;

namespace detail {

inline bool pickle_is_tensor(const PickleNode& n) {
  return n.kind == PickleKind::ndarray || n.kind == PickleKind::torch_tensor;
}

// A scalar as metadata text; false for containers and tensors.
inline bool pickle_scalar_text(const PickleNode& n, std::string& out) {
  switch (n.kind) {
    case PickleKind::string:
      out = std::string(n.str());
      return true;
    case PickleKind::integer:
      out = std::to_string(n.integer);
      return true;
    case PickleKind::boolean:
      out = n.integer ? "True" : "False";
      return true;
    case PickleKind::none:
      out = "None";
      return true;
    case PickleKind::floating:
      out = python_float_repr(n.number);
      return true;
    default:
      return false;
  }
}

// A dict key as a name component: str, bytes (latin-1, as pickle.load(encoding="latin1")
// reads Python 2 str) or int; false otherwise.
inline bool pickle_key_text(const PickleNode& k, std::string& out) {
  if (k.kind == PickleKind::string) {
    out = std::string(k.str());
    return true;
  }
  if (k.kind == PickleKind::integer) {
    out = std::to_string(k.integer);
    return true;
  }
  if (k.kind == PickleKind::bytes) {
    out.clear();
    for (std::byte b : k.bytes) {
      const auto c = static_cast<unsigned char>(b);
      if (c < 0x80) {
        out += static_cast<char>(c);
      } else {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
      }
    }
    return true;
  }
  return false;
}

}  // namespace detail

/// Collects the tensors of `doc` (see the file comment). `resolve` gives the bytes of PyTorch
/// storages (empty for plain pickles, which cannot hold them). Errors name doc.source().
inline PickledTensors collect_pickled_tensors(const PickleDocument& doc,
                                              const StorageResolver& resolve = {}) {
  const std::string& src = doc.source();
  PickledTensors out;
  const PickleId top = doc.root();
  PSALM_CHECK(doc.node(top).kind == PickleKind::dict, src, ": the pickle holds ", doc.describe(top),
              "; a checkpoint is a dict of tensors");
  const PickleNode& top_dict = doc.node(top);

  // The state dict: "model" (detectron2 / Mask2Former) or "state_dict" when it is a dict and no
  // other top-level entry is a tensor; otherwise the top-level dict itself.
  PickleId state = top;
  for (const char* key : {"model", "state_dict"}) {
    const auto found = doc.find(top, key);
    if (!found || doc.node(*found).kind != PickleKind::dict) continue;
    bool tensors_elsewhere = false;
    for (std::size_t i = 0; i + 1 < top_dict.items.size(); i += 2)
      if (top_dict.items[i + 1] != *found &&
          detail::pickle_is_tensor(doc.node(top_dict.items[i + 1])))
        tensors_elsewhere = true;
    if (tensors_elsewhere) continue;
    state = *found;
    out.root = key;
    break;
  }
  if (state != top) {
    for (std::size_t i = 0; i + 1 < top_dict.items.size(); i += 2) {
      if (top_dict.items[i + 1] == state) continue;
      std::string key, value;
      if (!detail::pickle_key_text(doc.node(top_dict.items[i]), key)) {
        out.skipped.push_back(doc.describe(top_dict.items[i]) + " (key)");
      } else if (detail::pickle_scalar_text(doc.node(top_dict.items[i + 1]), value)) {
        out.metadata[key] = value;
      } else {
        out.skipped.push_back(key + ": " + doc.describe(top_dict.items[i + 1]));
      }
    }
  }

  // Depth-first walk in dict order; a dict may be reached once (the memo can share or loop).
  struct Frame {
    PickleId dict;
    std::size_t next;
    std::string prefix;
  };
  std::vector<Frame> frames{{state, 0, ""}};
  std::set<PickleId> seen{state};
  while (!frames.empty()) {
    Frame& f = frames.back();
    const PickleNode& d = doc.node(f.dict);
    if (f.next + 1 >= d.items.size()) {
      frames.pop_back();
      continue;
    }
    const PickleId key_id = d.items[f.next], value_id = d.items[f.next + 1];
    f.next += 2;
    std::string key;
    if (!detail::pickle_key_text(doc.node(key_id), key)) {
      out.skipped.push_back(f.prefix + doc.describe(key_id) + " (key)");
      continue;
    }
    const std::string name = f.prefix + key;
    const PickleNode& v = doc.node(value_id);
    if (v.kind == PickleKind::dict) {
      PSALM_CHECK(seen.insert(value_id).second, src, ": dict \"", name,
                  "\" is reached twice (a shared or cyclic reference)");
      PSALM_CHECK(frames.size() < static_cast<std::size_t>(kMaxPickleDictDepth), src,
                  ": dicts nest deeper than ", kMaxPickleDictDepth, " levels at \"", name, "\"");
      frames.push_back({value_id, 0, name + "."});  // invalidates f
      continue;
    }
    if (!detail::pickle_is_tensor(v)) {
      std::string value;
      if (frames.size() == 1 && state == top && detail::pickle_scalar_text(v, value)) {
        out.metadata[name] = value;
      } else {
        out.skipped.push_back(name + ": " + doc.describe(value_id));
      }
      continue;
    }
    const PickleArray& a = *v.array;
    TensorRecord r;
    r.name = name;
    r.dtype = a.dtype;
    r.shape = a.shape;
    r.strides = a.strides;
    if (v.kind == PickleKind::ndarray) {
      PSALM_CHECK(a.built, src, ": numpy array \"", name, "\" never received its state (BUILD)");
      r.big_endian = a.big_endian;
      r.storage = a.data;
    } else {
      const PickleNode& storage = doc.node(a.storage);
      PSALM_CHECK(static_cast<bool>(resolve), src, ": tensor \"", name,
                  "\" refers to a PyTorch storage outside a PyTorch checkpoint");
      r.offset = a.offset;
      r.storage = resolve(storage);
      r.storage_key = storage.text;
    }
    out.records.push_back(std::move(r));
  }
  return out;
}

}  // namespace psalm::io

// psalm/io/pickle_value.hpp — what a restricted pickle evaluates to: PickleDocument, an arena of
// PickleNode values (None, bool, int, float, str, bytes, tuple, list, dict, set, an allow-listed
// global, a numpy dtype / array, a PyTorch storage / tensor) that refer to each other by index,
// so shared and cyclic references (the pickle memo allows both) cost nothing to own.
// Host code. Depends on: core, io/safetensors_header. Test: tests/io/test_pickle.cpp.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/safetensors_header.hpp"

namespace psalm::io {

/// A float as Python's repr() writes it: the shortest digits that read back the same value,
/// fixed-point for exponents -4 to 15 ("0.0001", "2.0", "123.5"), else scientific ("1e-05",
/// "1.5e+16"); "inf", "-inf", "nan".
inline std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  const std::string sci(buf, r.ptr);  // [-]d[.ddd]e(+|-)XX
  const std::size_t e = sci.find('e');
  const int exponent = std::stoi(sci.substr(e + 1));
  if (exponent < -4 || exponent >= 16) return sci;
  const bool negative = sci[0] == '-';
  std::string digits;
  for (std::size_t i = negative ? 1 : 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  std::string out = negative ? "-" : "";
  if (exponent < 0)
    return out + "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
  const auto whole = static_cast<std::size_t>(exponent) + 1;
  if (digits.size() <= whole) return out + digits + std::string(whole - digits.size(), '0') + ".0";
  return out + digits.substr(0, whole) + "." + digits.substr(whole);
}

/// Index of a value in its PickleDocument.
using PickleId = std::uint32_t;

enum class PickleKind : std::uint8_t {
  none,
  boolean,
  integer,
  floating,
  string,  // UTF-8 text
  bytes,   // bytes, bytearray, a protocol-2 `_codecs.encode(text, "latin1")`
  tuple,
  list,
  dict,           // dict or collections.OrderedDict
  set,            // set or frozenset
  global,         // an allow-listed callable or class (PickleGlobal)
  dtype,          // numpy.dtype
  ndarray,        // numpy.ndarray
  torch_storage,  // a PyTorch storage named by a persistent id
  torch_tensor,   // torch._utils._rebuild_tensor_v2(...)
};

/// The allow-listed globals (docs/io.md, "Restricted pickles").
enum class PickleGlobal : std::uint8_t {
  ordered_dict,             // collections.OrderedDict
  np_reconstruct,           // numpy.core.multiarray._reconstruct (numpy._core in numpy 2)
  np_ndarray,               // numpy.ndarray (only as _reconstruct's first argument)
  np_dtype,                 // numpy.dtype
  np_scalar,                // numpy.core.multiarray.scalar
  np_frombuffer,            // numpy.core.numeric._frombuffer (protocol 5 arrays)
  codecs_encode,            // _codecs.encode (protocol-2 bytes)
  builtins_bytes,           // builtins.bytes / __builtin__.bytes (protocol-2 empty bytes)
  torch_rebuild_tensor,     // torch._utils._rebuild_tensor_v2
  torch_rebuild_parameter,  // torch._utils._rebuild_parameter
  torch_storage_type,       // torch.FloatStorage, ... (only inside a persistent id)
};

inline constexpr std::string_view kind_name(PickleKind k) {
  switch (k) {
    case PickleKind::none:
      return "None";
    case PickleKind::boolean:
      return "bool";
    case PickleKind::integer:
      return "int";
    case PickleKind::floating:
      return "float";
    case PickleKind::string:
      return "str";
    case PickleKind::bytes:
      return "bytes";
    case PickleKind::tuple:
      return "tuple";
    case PickleKind::list:
      return "list";
    case PickleKind::dict:
      return "dict";
    case PickleKind::set:
      return "set";
    case PickleKind::global:
      return "global";
    case PickleKind::dtype:
      return "numpy.dtype";
    case PickleKind::ndarray:
      return "numpy.ndarray";
    case PickleKind::torch_storage:
      return "torch storage";
    case PickleKind::torch_tensor:
      return "torch.Tensor";
  }
  return "?";
}

/// Element type, byte order and layout of a numpy array or PyTorch tensor (and the element
/// type of a dtype or storage).
struct PickleArray {
  SafetensorsDType dtype = SafetensorsDType::F32;
  bool big_endian = false;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> strides;  // elements
  std::int64_t offset = 0;            // elements into the storage (torch)
  std::span<const std::byte> data;    // ndarray: its bytes
  PickleId storage = 0;               // torch_tensor: the torch_storage value
  bool built = false;                 // ndarray / dtype: BUILD (or the constructor) set its state
  bool requires_grad = false;         // torch_tensor
};

/// One value. Which fields mean something depends on `kind`.
struct PickleNode {
  PickleKind kind = PickleKind::none;
  bool ordered = false;      // dict made by collections.OrderedDict (BUILD may then set attributes)
  std::int64_t integer = 0;  // boolean, integer; global: PickleGlobal; torch_storage: numel
  double number = 0;         // floating
  std::string text;  // global: "module.name"; torch_storage: its key; dtype: its type string
  std::span<const std::byte> bytes;    // bytes, string (UTF-8): a view of the input or of a blob
  std::vector<PickleId> items;         // tuple / list / set elements; dict: key, value, key, ...
  std::shared_ptr<PickleArray> array;  // dtype, ndarray, torch_storage, torch_tensor

  /// A string's text (a view: strings are never copied out of the input), else `text`.
  std::string_view str() const {
    if (kind == PickleKind::string)
      return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
    return text;
  }
};

/// Bytes the reader had to make (latin-1 text turned into bytes); stable addresses.
using PickleBlobs = std::deque<std::string>;

/// The evaluated pickle. Values refer to each other by PickleId; root() is what STOP returned.
class PickleDocument {
 public:
  const std::string& source() const { return source_; }
  int protocol() const { return protocol_; }
  PickleId root() const { return root_; }
  std::size_t size() const { return nodes_.size(); }
  const PickleNode& node(PickleId id) const {
    PSALM_CHECK(id < nodes_.size(), source_, ": pickle value ", id, " does not exist");
    return nodes_[id];
  }
  /// The value of dict `dict` under the str key `key`, if any.
  std::optional<PickleId> find(PickleId dict, std::string_view key) const {
    const PickleNode& d = node(dict);
    if (d.kind != PickleKind::dict) return std::nullopt;
    for (std::size_t i = 0; i + 1 < d.items.size(); i += 2) {
      const PickleNode& k = nodes_[d.items[i]];
      if (k.kind == PickleKind::string && k.str() == key) return d.items[i + 1];
    }
    return std::nullopt;
  }
  /// A short description for messages: `dict of 3 items`, `str "abc"`, `int 5`.
  std::string describe(PickleId id) const {
    const PickleNode& n = node(id);
    switch (n.kind) {
      case PickleKind::boolean:
        return n.integer ? "bool True" : "bool False";
      case PickleKind::integer:
        return "int " + std::to_string(n.integer);
      case PickleKind::floating:
        return "float " + python_float_repr(n.number);
      case PickleKind::string:
        return "str \"" +
               (n.str().size() > 40 ? std::string(n.str().substr(0, 40)) + "..."
                                    : std::string(n.str())) +
               "\"";
      case PickleKind::bytes:
        return "bytes of length " + std::to_string(n.bytes.size());
      case PickleKind::tuple:
      case PickleKind::list:
      case PickleKind::set:
        return std::string(kind_name(n.kind)) + " of " + std::to_string(n.items.size()) + " items";
      case PickleKind::dict:
        return "dict of " + std::to_string(n.items.size() / 2) + " items";
      case PickleKind::global:
        return "global " + n.text;
      default:
        return std::string(kind_name(n.kind));
    }
  }
  /// Keeps the bytes made while reading alive (tensors may view them).
  const std::shared_ptr<PickleBlobs>& blobs() const { return blobs_; }

 private:
  friend class PickleReader;
  std::string source_;
  int protocol_ = 0;
  PickleId root_ = 0;
  std::vector<PickleNode> nodes_;
  std::shared_ptr<PickleBlobs> blobs_ = std::make_shared<PickleBlobs>();
};

}  // namespace psalm::io

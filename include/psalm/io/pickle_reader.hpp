// psalm/io/pickle_reader.hpp — a restricted reader of Python pickles (protocols 2 to 5): the
// opcodes are interpreted by a stack machine that executes nothing, and only an allow-list of
// globals is accepted, each turned into data by its own rule (numpy arrays and dtypes, ordered
// dicts, PyTorch tensors over persistent-id storages): torch.load's `weights_only` promise, in
// C++. Every length, count, offset and index is checked against the input and PickleLimits;
// anything else is a psalm::Error naming the file, the byte offset and the opcode.
// Host code. Depends on: core, io/{pickle_value,safetensors_header}. Test:
// tests/io/test_pickle.cpp.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "psalm/core/error.hpp"
#include "psalm/io/pickle_value.hpp"
#include "psalm/io/safetensors_header.hpp"

namespace psalm::io {

/// Bounds on what one pickle may make; exceeding any is an error naming the limit.
struct PickleLimits {
  std::size_t max_values = std::size_t{1} << 20;  // values created (a 1000-tensor checkpoint: ~20k)
  std::size_t max_items = std::size_t{1} << 22;   // container slots, all containers together
  std::size_t max_stack = std::size_t{1} << 18;   // values on the stack at once
  std::size_t max_marks = 4096;                   // MARKs open at once
  std::size_t max_memo = std::size_t{1} << 20;    // memo entries
  std::size_t max_rank = 32;                      // extents of an array or tensor
  std::size_t max_global = 256;                   // bytes of a GLOBAL's module or name
};

struct PickleOptions {
  /// Accept the PyTorch globals and persistent ids (BINPERSID) of a torch.save data.pkl.
  bool torch = false;
  PickleLimits limits{};
};

namespace detail {

struct PickleAllowed {
  std::string_view module, name;
  PickleGlobal global;
  bool torch_only;
};

// The allow-list: exactly these globals are accepted (docs/io.md, "Restricted pickles").
inline constexpr PickleAllowed kPickleAllowList[] = {
    {"collections", "OrderedDict", PickleGlobal::ordered_dict, false},
    {"numpy.core.multiarray", "_reconstruct", PickleGlobal::np_reconstruct, false},
    {"numpy._core.multiarray", "_reconstruct", PickleGlobal::np_reconstruct, false},
    {"numpy", "ndarray", PickleGlobal::np_ndarray, false},
    {"numpy", "dtype", PickleGlobal::np_dtype, false},
    {"numpy.core.multiarray", "scalar", PickleGlobal::np_scalar, false},
    {"numpy._core.multiarray", "scalar", PickleGlobal::np_scalar, false},
    {"numpy.core.numeric", "_frombuffer", PickleGlobal::np_frombuffer, false},
    {"numpy._core.numeric", "_frombuffer", PickleGlobal::np_frombuffer, false},
    {"_codecs", "encode", PickleGlobal::codecs_encode, false},
    {"builtins", "bytes", PickleGlobal::builtins_bytes, false},
    {"__builtin__", "bytes", PickleGlobal::builtins_bytes, false},
    {"torch._utils", "_rebuild_tensor_v2", PickleGlobal::torch_rebuild_tensor, true},
    {"torch._utils", "_rebuild_parameter", PickleGlobal::torch_rebuild_parameter, true},
    {"torch", "FloatStorage", PickleGlobal::torch_storage_type, true},
    {"torch", "DoubleStorage", PickleGlobal::torch_storage_type, true},
    {"torch", "HalfStorage", PickleGlobal::torch_storage_type, true},
    {"torch", "BFloat16Storage", PickleGlobal::torch_storage_type, true},
    {"torch", "LongStorage", PickleGlobal::torch_storage_type, true},
    {"torch", "IntStorage", PickleGlobal::torch_storage_type, true},
    {"torch", "ShortStorage", PickleGlobal::torch_storage_type, true},
    {"torch", "CharStorage", PickleGlobal::torch_storage_type, true},
    {"torch", "ByteStorage", PickleGlobal::torch_storage_type, true},
    {"torch", "BoolStorage", PickleGlobal::torch_storage_type, true},
};

// Element type of a torch.<Name>Storage.
inline SafetensorsDType torch_storage_dtype(std::string_view name) {
  using D = SafetensorsDType;
  if (name == "FloatStorage") return D::F32;
  if (name == "DoubleStorage") return D::F64;
  if (name == "HalfStorage") return D::F16;
  if (name == "BFloat16Storage") return D::BF16;
  if (name == "LongStorage") return D::I64;
  if (name == "IntStorage") return D::I32;
  if (name == "ShortStorage") return D::I16;
  if (name == "CharStorage") return D::I8;
  if (name == "ByteStorage") return D::U8;
  return D::BOOL;  // BoolStorage, the last of the allow-list
}

inline std::string pickle_opcode_name(std::uint8_t op) {
  static constexpr struct {
    std::uint8_t code;
    const char* name;
  } kNames[] = {
      {'(', "MARK"},
      {'.', "STOP"},
      {'0', "POP"},
      {'1', "POP_MARK"},
      {'2', "DUP"},
      {'F', "FLOAT"},
      {'I', "INT"},
      {'J', "BININT"},
      {'K', "BININT1"},
      {'L', "LONG"},
      {'M', "BININT2"},
      {'N', "NONE"},
      {'P', "PERSID"},
      {'Q', "BINPERSID"},
      {'R', "REDUCE"},
      {'S', "STRING"},
      {'T', "BINSTRING"},
      {'U', "SHORT_BINSTRING"},
      {'V', "UNICODE"},
      {'X', "BINUNICODE"},
      {'a', "APPEND"},
      {'b', "BUILD"},
      {'c', "GLOBAL"},
      {'d', "DICT"},
      {'}', "EMPTY_DICT"},
      {'e', "APPENDS"},
      {'g', "GET"},
      {'h', "BINGET"},
      {'i', "INST"},
      {'j', "LONG_BINGET"},
      {'l', "LIST"},
      {']', "EMPTY_LIST"},
      {'o', "OBJ"},
      {'p', "PUT"},
      {'q', "BINPUT"},
      {'r', "LONG_BINPUT"},
      {'s', "SETITEM"},
      {'t', "TUPLE"},
      {')', "EMPTY_TUPLE"},
      {'u', "SETITEMS"},
      {'G', "BINFLOAT"},
      {0x80, "PROTO"},
      {0x81, "NEWOBJ"},
      {0x82, "EXT1"},
      {0x83, "EXT2"},
      {0x84, "EXT4"},
      {0x85, "TUPLE1"},
      {0x86, "TUPLE2"},
      {0x87, "TUPLE3"},
      {0x88, "NEWTRUE"},
      {0x89, "NEWFALSE"},
      {0x8a, "LONG1"},
      {0x8b, "LONG4"},
      {'B', "BINBYTES"},
      {'C', "SHORT_BINBYTES"},
      {0x8c, "SHORT_BINUNICODE"},
      {0x8d, "BINUNICODE8"},
      {0x8e, "BINBYTES8"},
      {0x8f, "EMPTY_SET"},
      {0x90, "ADDITEMS"},
      {0x91, "FROZENSET"},
      {0x92, "NEWOBJ_EX"},
      {0x93, "STACK_GLOBAL"},
      {0x94, "MEMOIZE"},
      {0x95, "FRAME"},
      {0x96, "BYTEARRAY8"},
      {0x97, "NEXT_BUFFER"},
      {0x98, "READONLY_BUFFER"},
  };
  char hex[8];
  std::snprintf(hex, sizeof(hex), "0x%02x", op);
  for (const auto& n : kNames)
    if (n.code == op) return std::string(n.name) + " (" + hex + ")";
  return std::string("unknown opcode ") + hex;
}

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(extra) >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto d = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}

// Valid UTF-8 text whose code points are all below 256 -> those bytes (latin-1); false when a
// code point is larger.
inline bool utf8_to_latin1(std::string_view text, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && c <= 0xC3 && i + 1 < text.size()) {
      out +=
          static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3F));
      i += 2;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace detail

/// The stack machine. Use parse_pickle(); the class is public for its documentation only.
class PickleReader {
 public:
  PickleReader(std::span<const std::byte> input, std::string source, const PickleOptions& options)
      : in_(input), opt_(options) {
    doc_.source_ = std::move(source);
  }

  PickleDocument run() {
    bool stopped = false;
    while (!stopped) {
      if (pos_ >= in_.size()) {
        op_pos_ = in_.size();
        fail(doc_.source_, ": pickle ends at offset ", in_.size(), " before its STOP opcode",
             in_.empty() ? " (the input is empty)" : "");
      }
      op_pos_ = pos_;
      op_ = static_cast<std::uint8_t>(in_[pos_++]);
      if (op_pos_ == 0 && op_ != 0x80)
        error(
            "a pickle of protocol 2 to 5 starts with PROTO (0x80); this one does not "
            "(protocols 0 and 1, or not a pickle)");
      stopped = step();
    }
    if (pos_ != in_.size())
      fail(doc_.source_, ": ", in_.size() - pos_,
           " trailing bytes after the pickle's STOP at offset ", op_pos_);
    return std::move(doc_);
  }

 private:
  // ---- errors and input ----------------------------------------------------------------------
  template <class... A>
  [[noreturn]] void error(const A&... why) const {
    fail(doc_.source_, ": pickle offset ", op_pos_, ", opcode ", detail::pickle_opcode_name(op_),
         ": ", why...);
  }
  std::span<const std::byte> take(std::uint64_t count, const char* what) {
    if (count > in_.size() - pos_)
      error(what, " of ", count, " bytes runs past the end of the input (", in_.size() - pos_,
            " bytes left)");
    const auto out = in_.subspan(pos_, static_cast<std::size_t>(count));
    pos_ += static_cast<std::size_t>(count);
    return out;
  }
  std::uint64_t read_le(int width, const char* what) {
    const auto b = take(static_cast<std::uint64_t>(width), what);
    std::uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(b[i]);
    return v;
  }
  // A newline-terminated line of printable ASCII (GLOBAL's operands).
  std::string read_line(const char* what) {
    std::string out;
    while (true) {
      if (pos_ >= in_.size()) error(what, " is not terminated by a newline before the input ends");
      const auto c = static_cast<char>(in_[pos_++]);
      if (c == '\n') break;
      if (c < 0x20 || c > 0x7e) error(what, " holds a byte that is not printable ASCII");
      if (out.size() >= opt_.limits.max_global)
        error(what, " is longer than ", opt_.limits.max_global, " bytes");
      out += c;
    }
    return out;
  }

  // ---- values, stack, marks, memo ------------------------------------------------------------
  PickleId make(PickleKind kind) {
    if (doc_.nodes_.size() >= opt_.limits.max_values)
      error("more than ", opt_.limits.max_values, " values (PickleLimits::max_values)");
    doc_.nodes_.emplace_back();
    doc_.nodes_.back().kind = kind;
    return static_cast<PickleId>(doc_.nodes_.size() - 1);
  }
  PickleNode& at(PickleId id) { return doc_.nodes_[id]; }
  std::size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(PickleId id) {
    if (stack_.size() >= opt_.limits.max_stack)
      error("more than ", opt_.limits.max_stack, " values on the stack (PickleLimits::max_stack)");
    stack_.push_back(id);
  }
  PickleId pop() {
    if (stack_.size() <= fence())
      error("stack underflow (", marks_.empty() ? "the stack is empty" : "nothing above the MARK",
            ")");
    const PickleId id = stack_.back();
    stack_.pop_back();
    return id;
  }
  PickleId top() {
    if (stack_.size() <= fence())
      error("stack underflow (", marks_.empty() ? "the stack is empty" : "nothing above the MARK",
            ")");
    return stack_.back();
  }
  std::vector<PickleId> pop_mark() {
    if (marks_.empty()) error("no MARK to pop to");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PickleId> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void add_items(std::size_t count) {
    items_ += count;
    if (items_ > opt_.limits.max_items)
      error("more than ", opt_.limits.max_items,
            " container items in all (PickleLimits::max_items)");
  }
  PickleId make_container(PickleKind kind, std::vector<PickleId> items) {
    add_items(items.size());
    const PickleId id = make(kind);
    at(id).items = std::move(items);
    return id;
  }
  void memo_put(std::uint64_t key) {
    const PickleId value = top();
    if (memo_.size() >= opt_.limits.max_memo && !memo_.contains(key))
      error("more than ", opt_.limits.max_memo, " memo entries (PickleLimits::max_memo)");
    memo_[key] = value;
  }
  void memo_get(std::uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) error("memo key ", key, " was never stored");
    push(it->second);
  }

  // ---- typed access --------------------------------------------------------------------------
  const PickleNode& expect(PickleId id, PickleKind kind, const char* what) {
    const PickleNode& n = at(id);
    if (n.kind != kind) error(what, " must be a ", kind_name(kind), ", got ", doc_.describe(id));
    return n;
  }
  std::int64_t expect_int(PickleId id, const char* what) {
    return expect(id, PickleKind::integer, what).integer;
  }
  bool expect_bool(PickleId id, const char* what) {
    return expect(id, PickleKind::boolean, what).integer != 0;
  }
  // str, or bytes read as latin-1 (what pickle.load(encoding="latin1") gives for Python 2 str).
  std::string expect_text(PickleId id, const char* what) {
    const PickleNode& n = at(id);
    if (n.kind == PickleKind::string) return std::string(n.str());
    if (n.kind == PickleKind::bytes) return latin1_to_utf8(n.bytes);
    error(what, " must be a str, got ", doc_.describe(id));
  }
  std::vector<std::int64_t> expect_extents(PickleId id, const char* what) {
    const PickleNode& n = expect(id, PickleKind::tuple, what);
    if (n.items.size() > opt_.limits.max_rank)
      error(what, " has ", n.items.size(), " entries, more than ", opt_.limits.max_rank,
            " (PickleLimits::max_rank)");
    std::vector<std::int64_t> out;
    for (PickleId item : n.items) {
      const std::int64_t v = expect_int(item, what);
      if (v < 0) error(what, " holds a negative value (", v, ")");
      out.push_back(v);
    }
    return out;
  }
  static std::string latin1_to_utf8(std::span<const std::byte> b) {
    std::string out;
    for (std::byte x : b) {
      const auto c = static_cast<unsigned char>(x);
      if (c < 0x80) {
        out += static_cast<char>(c);
      } else {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
      }
    }
    return out;
  }
  // Element count and bytes of `shape` in `dtype`, overflow-checked.
  std::uint64_t checked_bytes(const std::vector<std::int64_t>& shape, SafetensorsDType dtype,
                              const char* what) {
    std::int64_t n = 1;
    for (std::int64_t e : shape)
      if (__builtin_mul_overflow(n, e, &n)) error(what, ": element count overflows");
    std::int64_t bytes = 0;
    if (__builtin_mul_overflow(n, static_cast<std::int64_t>(size_of(dtype)), &bytes))
      error(what, ": byte size overflows");
    return static_cast<std::uint64_t>(bytes);
  }

  // ---- opcodes -------------------------------------------------------------------------------
  void push_string(std::span<const std::byte> b) {
    const std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
    if (!detail::valid_utf8(text)) error("the string is not valid UTF-8");
    const PickleId id = make(PickleKind::string);
    at(id).bytes = b;  // a view: the input outlives the document
    push(id);
  }
  void push_bytes(std::span<const std::byte> b) {
    const PickleId id = make(PickleKind::bytes);
    at(id).bytes = b;
    push(id);
  }
  void push_int(std::int64_t v, PickleKind kind = PickleKind::integer) {
    const PickleId id = make(kind);
    at(id).integer = v;
    push(id);
  }
  void push_long(std::uint64_t width) {
    if (width > 8) error("integer of ", width, " bytes does not fit in 64 bits");
    const auto b = take(width, "LONG");
    std::uint64_t v = 0;
    for (std::size_t i = width; i-- > 0;) v = (v << 8) | static_cast<std::uint8_t>(b[i]);
    if (width > 0 && width < 8 && (static_cast<std::uint8_t>(b[width - 1]) & 0x80))
      v |= ~std::uint64_t{0} << (8 * width);  // sign-extend
    push_int(static_cast<std::int64_t>(v));
  }
  void push_global(const std::string& module, const std::string& name) {
    for (const auto& a : detail::kPickleAllowList) {
      if (a.module != module || a.name != name) continue;
      if (a.torch_only && !opt_.torch)
        error("global ", module, ".", name,
              " is accepted only inside a PyTorch zip checkpoint's data.pkl");
      const PickleId id = make(PickleKind::global);
      at(id).integer = static_cast<std::int64_t>(a.global);
      at(id).text = module + "." + name;
      push(id);
      return;
    }
    error("global ", module, ".", name,
          " is not allowed: this restricted reader builds only numpy arrays, PyTorch tensors, "
          "dicts and plain values (docs/io.md lists the accepted globals)");
  }
  // The equality class of a dict key (Python equality for the hashable scalars a checkpoint
  // uses), computed once per key value, so a long key reused many times is hashed once.
  std::uint64_t key_class(PickleId key) {
    if (const auto it = key_class_.find(key); it != key_class_.end()) return it->second;
    const PickleNode& k = at(key);
    std::string repr;
    switch (k.kind) {
      case PickleKind::string:
        repr = 's';
        repr += k.str();
        break;
      case PickleKind::bytes:
        repr = 'b';
        repr.append(reinterpret_cast<const char*>(k.bytes.data()), k.bytes.size());
        break;
      case PickleKind::boolean:
      case PickleKind::integer:
        repr = 'i' + std::to_string(k.integer);
        break;
      case PickleKind::none:
        repr = "n";
        break;
      case PickleKind::floating: {
        std::uint64_t bits = 0;
        const double v = k.number == 0.0 ? 0.0 : k.number;  // -0.0 == 0.0
        std::memcpy(&bits, &v, 8);
        repr = 'f' + std::to_string(bits);
        break;
      }
      default:
        error("dict key ", doc_.describe(key),
              " is not supported (str, bytes, int, float, bool or None)");
    }
    const auto [it, fresh] = key_classes_.try_emplace(std::move(repr), key_classes_.size());
    key_class_.emplace(key, it->second);
    return it->second;
  }
  void set_item(PickleId dict, PickleId key, PickleId value) {
    if (at(dict).kind != PickleKind::dict)
      error("SETITEM(S) target must be a dict, got ", doc_.describe(dict));
    const std::uint64_t cls = key_class(key);
    if (!keys_.insert((static_cast<std::uint64_t>(dict) << 32) | cls).second)
      error("dict key ", doc_.describe(key), " appears twice in the same dict");
    add_items(2);
    at(dict).items.push_back(key);
    at(dict).items.push_back(value);
  }

  // REDUCE: an allow-listed callable applied to its argument tuple, evaluated here as data.
  void reduce() {
    const PickleId args_id = pop();
    const PickleId callable = pop();
    const PickleNode& f = at(callable);
    if (f.kind != PickleKind::global)
      error("REDUCE's callable must be a global, got ", doc_.describe(callable));
    const std::string fname = f.text;
    const auto global = static_cast<PickleGlobal>(f.integer);
    const std::size_t count = expect(args_id, PickleKind::tuple, "REDUCE's arguments").items.size();
    std::vector<PickleId> args;  // copied only once its length is known to be small
    auto arity = [&](std::size_t lo, std::size_t hi) {
      if (count < lo || count > hi)
        error(fname, " takes ",
              lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi),
              " arguments, got ", count);
      args = at(args_id).items;
    };
    switch (global) {
      case PickleGlobal::ordered_dict: {
        arity(0, 0);
        const PickleId id = make(PickleKind::dict);
        at(id).ordered = true;
        push(id);
        return;
      }
      case PickleGlobal::builtins_bytes: {
        arity(0, 0);
        push_bytes({});
        return;
      }
      case PickleGlobal::codecs_encode: {
        arity(2, 2);
        const std::string_view text =
            expect(args[0], PickleKind::string, "_codecs.encode's text").str();
        const std::string enc(
            expect(args[1], PickleKind::string, "_codecs.encode's encoding").str());
        if (enc != "latin1" && enc != "latin-1")
          error("_codecs.encode with encoding \"", enc, "\" is not supported (only latin1)");
        std::string out;
        if (!detail::utf8_to_latin1(text, out))
          error("_codecs.encode: the text holds a character beyond U+00FF, not latin-1");
        doc_.blobs_->push_back(std::move(out));
        const std::string& blob = doc_.blobs_->back();
        push_bytes(std::as_bytes(std::span(blob.data(), blob.size())));
        return;
      }
      case PickleGlobal::np_reconstruct: {
        arity(3, 3);
        const PickleNode& cls = expect(args[0], PickleKind::global, "_reconstruct's class");
        if (static_cast<PickleGlobal>(cls.integer) != PickleGlobal::np_ndarray)
          error("_reconstruct's class must be numpy.ndarray, got ", cls.text);
        (void)expect_extents(args[1], "_reconstruct's shape");
        const PickleId id = make(PickleKind::ndarray);
        at(id).array = std::make_shared<PickleArray>();
        push(id);
        return;
      }
      case PickleGlobal::np_dtype: {
        arity(1, 3);
        const std::string descr = expect_text(args[0], "numpy.dtype's type string");
        const PickleId id = make(PickleKind::dtype);
        at(id).array = std::make_shared<PickleArray>(parse_descr(descr));
        at(id).text = descr;
        push(id);
        return;
      }
      case PickleGlobal::np_scalar: {
        arity(2, 2);
        const PickleArray dt = expect_dtype(args[0], "numpy scalar's dtype");
        const PickleNode& data = expect(args[1], PickleKind::bytes, "numpy scalar's data");
        if (data.bytes.size() != size_of(dt.dtype))
          error("numpy scalar of ", name_of(dt.dtype), " holds ", data.bytes.size(), " bytes, not ",
                size_of(dt.dtype));
        push_array(dt, {}, false, data.bytes);
        return;
      }
      case PickleGlobal::np_frombuffer: {
        arity(4, 4);
        const PickleNode& data = expect(args[0], PickleKind::bytes, "_frombuffer's buffer");
        const PickleArray dt = expect_dtype(args[1], "_frombuffer's dtype");
        const std::vector<std::int64_t> shape = expect_extents(args[2], "_frombuffer's shape");
        const std::string order(expect(args[3], PickleKind::string, "_frombuffer's order").str());
        if (order != "C" && order != "F")
          error("_frombuffer's order must be \"C\" or \"F\", got \"", order, "\"");
        push_array(dt, shape, order == "F", data.bytes);
        return;
      }
      case PickleGlobal::torch_rebuild_tensor: {
        arity(6, 7);
        const PickleNode& storage =
            expect(args[0], PickleKind::torch_storage, "the tensor's storage");
        auto t = std::make_shared<PickleArray>();
        t->dtype = storage.array->dtype;
        t->storage = args[0];
        t->offset = expect_int(args[1], "the storage offset");
        if (t->offset < 0) error("negative storage offset ", t->offset);
        t->shape = expect_extents(args[2], "the tensor's size");
        t->strides = expect_extents(args[3], "the tensor's stride");
        if (t->strides.size() != t->shape.size())
          error("the tensor has ", t->shape.size(), " extents but ", t->strides.size(), " strides");
        t->requires_grad = expect_bool(args[4], "requires_grad");
        const PickleNode& hooks = expect(args[5], PickleKind::dict, "backward_hooks");
        if (!hooks.items.empty()) error("tensors with backward hooks are not supported");
        if (args.size() == 7 && at(args[6]).kind != PickleKind::none &&
            at(args[6]).kind != PickleKind::dict)
          error("the tensor's metadata must be None or a dict, got ", doc_.describe(args[6]));
        (void)checked_bytes(t->shape, t->dtype, "the tensor");
        // Every element must lie inside the storage (numel elements, from the persistent id).
        std::int64_t last = t->offset;
        bool empty = false;
        for (std::size_t d = 0; d < t->shape.size(); ++d) {
          if (t->shape[d] == 0) empty = true;
          std::int64_t step = 0;
          if (t->shape[d] > 0 && (__builtin_mul_overflow(t->shape[d] - 1, t->strides[d], &step) ||
                                  __builtin_add_overflow(last, step, &last)))
            error("the tensor's element offsets overflow");
        }
        if (!empty && last >= storage.integer)
          error("the tensor (offset ", t->offset, ", ", t->shape.size(),
                " extents) reaches element ", last, " of storage \"", storage.text,
                "\", which holds ", storage.integer, " elements");
        const PickleId id = make(PickleKind::torch_tensor);
        at(id).array = std::move(t);
        push(id);
        return;
      }
      case PickleGlobal::torch_rebuild_parameter: {
        arity(3, 3);
        (void)expect(args[0], PickleKind::torch_tensor, "the parameter's data");
        (void)expect_bool(args[1], "requires_grad");
        const PickleNode& hooks = expect(args[2], PickleKind::dict, "backward_hooks");
        if (!hooks.items.empty()) error("parameters with backward hooks are not supported");
        push(args[0]);
        return;
      }
      case PickleGlobal::np_ndarray:
      case PickleGlobal::torch_storage_type:
        error(fname, " cannot be called here");
    }
    error("unknown global");
  }

  // numpy dtype type strings: b1, i1/2/4/8, u1/2/4/8, f2/4/8, c8 (with an optional byte-order
  // prefix). Others (objects, strings, records, datetimes, complex128) are refused.
  PickleArray parse_descr(const std::string& descr) {
    using D = SafetensorsDType;
    std::string_view s = descr;
    PickleArray out;
    if (!s.empty() && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')) {
      out.big_endian = s[0] == '>';
      s.remove_prefix(1);
    }
    static constexpr struct {
      std::string_view name;
      D dtype;
    } kTypes[] = {{"b1", D::BOOL}, {"i1", D::I8},  {"i2", D::I16}, {"i4", D::I32}, {"i8", D::I64},
                  {"u1", D::U8},   {"u2", D::U16}, {"u4", D::U32}, {"u8", D::U64}, {"f2", D::F16},
                  {"f4", D::F32},  {"f8", D::F64}, {"c8", D::C64}};
    for (const auto& t : kTypes) {
      if (t.name != s) continue;
      out.dtype = t.dtype;
      return out;
    }
    error("numpy dtype \"", descr,
          "\" is not supported (bool, int8-64, uint8-64, float16/32/64 and complex64 are)");
  }
  PickleArray expect_dtype(PickleId id, const char* what) {
    const PickleNode& n = expect(id, PickleKind::dtype, what);
    return *n.array;
  }
  // A built ndarray of `shape` over `data` (its bytes in C or Fortran order).
  void push_array(const PickleArray& dt, std::vector<std::int64_t> shape, bool fortran,
                  std::span<const std::byte> data) {
    auto a = make_array(dt, std::move(shape), fortran, data);
    const PickleId id = make(PickleKind::ndarray);
    at(id).array = std::move(a);
    push(id);
  }
  std::shared_ptr<PickleArray> make_array(const PickleArray& dt, std::vector<std::int64_t> shape,
                                          bool fortran, std::span<const std::byte> data) {
    auto a = std::make_shared<PickleArray>();
    a->dtype = dt.dtype;
    a->big_endian = dt.big_endian && size_of(dt.dtype) > 1;
    const std::uint64_t bytes = checked_bytes(shape, dt.dtype, "the array");
    if (data.size() != bytes)
      error("the array's data holds ", data.size(), " bytes but its shape and dtype ",
            name_of(dt.dtype), " need ", bytes);
    a->strides = strides_of(shape, fortran);
    a->shape = std::move(shape);
    a->data = data;
    a->built = true;
    return a;
  }
  static std::vector<std::int64_t> strides_of(const std::vector<std::int64_t>& shape,
                                              bool fortran) {
    std::vector<std::int64_t> out(shape.size());
    std::int64_t step = 1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
      const std::size_t d = fortran ? i : shape.size() - 1 - i;
      out[d] = step;
      step *= shape[d] > 0 ? shape[d] : 1;  // the element count was checked to fit
    }
    return out;
  }

  // BUILD: the state of a numpy array or dtype, or attributes of an OrderedDict (ignored).
  void build() {
    const PickleId state = pop();
    const PickleId target = top();
    PickleNode& t = at(target);
    if (t.kind == PickleKind::ndarray) {
      if (t.array->built) error("numpy array state set twice");
      const PickleNode& s = expect(state, PickleKind::tuple, "the numpy array state");
      if (s.items.size() != 4 && s.items.size() != 5)
        error("the numpy array state must be (version, shape, dtype, is_fortran, data), got ",
              doc_.describe(state));
      std::vector<PickleId> f = s.items;
      if (f.size() == 5) {
        (void)expect_int(f[0], "the numpy array state's version");
        f.erase(f.begin());
      }
      if (f.size() != 4)
        error("the numpy array state must be (version, shape, dtype, is_fortran, data), got ",
              doc_.describe(state));
      std::vector<std::int64_t> shape = expect_extents(f[0], "the array's shape");
      const PickleArray dt = expect_dtype(f[1], "the array's dtype");
      const bool fortran = expect_bool(f[2], "the array's is_fortran");
      std::span<const std::byte> data;
      const PickleNode& d = at(f[3]);
      if (d.kind == PickleKind::bytes) {
        data = d.bytes;
      } else if (d.kind == PickleKind::string) {  // Python 2 str read as latin-1 text
        std::string raw;
        if (!detail::utf8_to_latin1(d.str(), raw))
          error("the array's data text holds a character beyond U+00FF");
        doc_.blobs_->push_back(std::move(raw));
        data = std::as_bytes(std::span(doc_.blobs_->back().data(), doc_.blobs_->back().size()));
      } else {
        error("the array's data must be bytes, got ", doc_.describe(f[3]),
              " (object arrays are not supported)");
      }
      // The same value id keeps its identity, so memo references see the built array.
      at(target).array = make_array(dt, std::move(shape), fortran, data);
      return;
    }
    if (t.kind == PickleKind::dtype) {
      if (t.array->built) error("numpy dtype state set twice");
      const PickleNode& s = expect(state, PickleKind::tuple, "the numpy dtype state");
      if (s.items.size() != 8 && s.items.size() != 9)
        error("the numpy dtype state must have 8 or 9 entries, got ", doc_.describe(state));
      (void)expect_int(s.items[0], "the dtype state's version");
      const std::string order = expect_text(s.items[1], "the dtype's byte order");
      if (order != "<" && order != ">" && order != "|" && order != "=")
        error("the dtype's byte order must be <, >, | or =, got \"", order, "\"");
      for (int i = 2; i <= 4; ++i)
        if (at(s.items[static_cast<std::size_t>(i)]).kind != PickleKind::none)
          error("structured and sub-array numpy dtypes are not supported");
      t.array->big_endian = order == ">";
      t.array->built = true;
      return;
    }
    if (t.kind == PickleKind::dict && t.ordered) {
      const PickleNode& s = at(state);
      if (s.kind != PickleKind::dict && s.kind != PickleKind::none)
        error("OrderedDict attributes must be a dict, got ", doc_.describe(state));
      return;  // attributes such as a state dict's `_metadata`: not needed
    }
    error("BUILD on ", doc_.describe(target), " is not allowed");
  }

  // BINPERSID in a torch data.pkl: ('storage', torch.<T>Storage, key, location, numel).
  void persistent_id() {
    if (!opt_.torch) error("persistent ids occur only in PyTorch checkpoints");
    const PickleId pid = pop();
    const PickleNode& p = expect(pid, PickleKind::tuple, "the persistent id");
    if (p.items.size() != 5)
      error("the persistent id must be ('storage', type, key, location, numel), got ",
            doc_.describe(pid));
    const std::string tag = expect_text(p.items[0], "the persistent id's tag");
    if (tag != "storage") error("persistent id of kind \"", tag, "\" is not supported");
    const PickleNode& type = expect(p.items[1], PickleKind::global, "the storage type");
    if (static_cast<PickleGlobal>(type.integer) != PickleGlobal::torch_storage_type)
      error("the storage type must be a torch.<Type>Storage, got ", type.text);
    const std::string key = expect_text(p.items[2], "the storage key");
    (void)expect_text(p.items[3], "the storage location");
    const std::int64_t numel = expect_int(p.items[4], "the storage size");
    if (numel < 0) error("negative storage size ", numel);
    auto storage = std::make_shared<PickleArray>();
    storage->dtype = detail::torch_storage_dtype(type.text.substr(6));  // after "torch."
    const PickleId id = make(PickleKind::torch_storage);
    at(id).text = key;
    at(id).integer = numel;
    at(id).array = std::move(storage);
    push(id);
  }

  // One opcode; true at STOP.
  bool step() {
    switch (op_) {
      case 0x80: {  // PROTO
        const auto v = read_le(1, "PROTO");
        if (op_pos_ != 0) error("PROTO after the start of the pickle");
        if (v < 2 || v > 5) error("pickle protocol ", v, " is not supported (2 to 5 are)");
        doc_.protocol_ = static_cast<int>(v);
        return false;
      }
      case 0x95: {  // FRAME: a length hint; the frame must lie inside the input
        const auto n = read_le(8, "FRAME");
        if (n > in_.size() - pos_) error("frame of ", n, " bytes runs past the end of the input");
        return false;
      }
      case '.': {  // STOP
        if (!marks_.empty()) error(marks_.size(), " MARK(s) still open at STOP");
        if (stack_.size() != 1) error("the stack holds ", stack_.size(), " values at STOP, not 1");
        doc_.root_ = stack_.back();
        return true;
      }
      case '(':  // MARK
        if (marks_.size() >= opt_.limits.max_marks)
          error("more than ", opt_.limits.max_marks, " open MARKs (PickleLimits::max_marks)");
        marks_.push_back(stack_.size());
        return false;
      case '0':  // POP: a value, or the MARK right on top
        if (!marks_.empty() && marks_.back() == stack_.size()) {
          marks_.pop_back();
        } else {
          (void)pop();
        }
        return false;
      case '1':
        (void)pop_mark();
        return false;  // POP_MARK
      case '2':
        push(top());
        return false;  // DUP
      case 'N':
        push(make(PickleKind::none));
        return false;
      case 0x88:
        push_int(1, PickleKind::boolean);
        return false;  // NEWTRUE
      case 0x89:
        push_int(0, PickleKind::boolean);
        return false;  // NEWFALSE
      case 'J':
        push_int(static_cast<std::int32_t>(static_cast<std::uint32_t>(read_le(4, "BININT"))));
        return false;
      case 'K':
        push_int(static_cast<std::int64_t>(read_le(1, "BININT1")));
        return false;
      case 'M':
        push_int(static_cast<std::int64_t>(read_le(2, "BININT2")));
        return false;
      case 0x8a:
        push_long(read_le(1, "LONG1 length"));
        return false;
      case 0x8b:
        push_long(read_le(4, "LONG4 length"));
        return false;
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const auto b = take(8, "BINFLOAT");
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<std::uint8_t>(b[i]);
        const PickleId id = make(PickleKind::floating);
        std::memcpy(&at(id).number, &bits, 8);
        push(id);
        return false;
      }
      case 0x8c:
        push_string(take(read_le(1, "SHORT_BINUNICODE length"), "string"));
        return false;
      case 'X':
        push_string(take(read_le(4, "BINUNICODE length"), "string"));
        return false;
      case 0x8d:
        push_string(take(read_le(8, "BINUNICODE8 length"), "string"));
        return false;
      case 'C':
        push_bytes(take(read_le(1, "SHORT_BINBYTES length"), "bytes"));
        return false;
      case 'B':
        push_bytes(take(read_le(4, "BINBYTES length"), "bytes"));
        return false;
      case 0x8e:
        push_bytes(take(read_le(8, "BINBYTES8 length"), "bytes"));
        return false;
      case 0x96:
        push_bytes(take(read_le(8, "BYTEARRAY8 length"), "bytearray"));
        return false;
      case 'U':
        push_bytes(take(read_le(1, "SHORT_BINSTRING length"), "string"));
        return false;
      case 'T': {  // BINSTRING: signed 4-byte length
        const auto n =
            static_cast<std::int32_t>(static_cast<std::uint32_t>(read_le(4, "BINSTRING length")));
        if (n < 0) error("negative BINSTRING length ", n);
        push_bytes(take(static_cast<std::uint64_t>(n), "string"));
        return false;
      }
      case 0x98:
        (void)expect(top(), PickleKind::bytes, "READONLY_BUFFER's operand");
        return false;
      case ')':
        push(make_container(PickleKind::tuple, {}));
        return false;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const std::size_t n = op_ - 0x84u;
        std::vector<PickleId> items(n);
        for (std::size_t i = n; i-- > 0;) items[i] = pop();
        push(make_container(PickleKind::tuple, std::move(items)));
        return false;
      }
      case 't':
        push(make_container(PickleKind::tuple, pop_mark()));
        return false;
      case ']':
        push(make_container(PickleKind::list, {}));
        return false;
      case 'l':
        push(make_container(PickleKind::list, pop_mark()));
        return false;
      case 0x8f:
        push(make_container(PickleKind::set, {}));
        return false;  // EMPTY_SET
      case 0x91:
        push(make_container(PickleKind::set, pop_mark()));
        return false;  // FROZENSET
      case '}': {
        const PickleId id = make(PickleKind::dict);
        push(id);
        return false;
      }
      case 'd': {  // DICT
        std::vector<PickleId> items = pop_mark();
        if (items.size() % 2 != 0) error("odd number of values (", items.size(), ") for a dict");
        const PickleId id = make(PickleKind::dict);
        push(id);
        for (std::size_t i = 0; i < items.size(); i += 2) set_item(id, items[i], items[i + 1]);
        return false;
      }
      case 'a': {  // APPEND
        const PickleId v = pop();
        const PickleId list = top();
        if (at(list).kind != PickleKind::list)
          error("APPEND target must be a list, got ", doc_.describe(list));
        add_items(1);
        at(list).items.push_back(v);
        return false;
      }
      case 'e': {  // APPENDS
        std::vector<PickleId> items = pop_mark();
        const PickleId list = top();
        if (at(list).kind != PickleKind::list)
          error("APPENDS target must be a list, got ", doc_.describe(list));
        add_items(items.size());
        at(list).items.insert(at(list).items.end(), items.begin(), items.end());
        return false;
      }
      case 0x90: {  // ADDITEMS
        std::vector<PickleId> items = pop_mark();
        const PickleId set = top();
        if (at(set).kind != PickleKind::set)
          error("ADDITEMS target must be a set, got ", doc_.describe(set));
        add_items(items.size());
        at(set).items.insert(at(set).items.end(), items.begin(), items.end());
        return false;
      }
      case 's': {  // SETITEM
        const PickleId v = pop();
        const PickleId k = pop();
        set_item(top(), k, v);
        return false;
      }
      case 'u': {  // SETITEMS
        std::vector<PickleId> items = pop_mark();
        if (items.size() % 2 != 0) error("odd number of values (", items.size(), ") for SETITEMS");
        const PickleId dict = top();
        for (std::size_t i = 0; i < items.size(); i += 2) set_item(dict, items[i], items[i + 1]);
        return false;
      }
      case 'q':
        memo_put(read_le(1, "BINPUT"));
        return false;
      case 'r':
        memo_put(read_le(4, "LONG_BINPUT"));
        return false;
      case 0x94:
        memo_put(memo_.size());
        return false;  // MEMOIZE
      case 'h':
        memo_get(read_le(1, "BINGET"));
        return false;
      case 'j':
        memo_get(read_le(4, "LONG_BINGET"));
        return false;
      case 'c': {  // GLOBAL "module\nname\n"
        const std::string module = read_line("GLOBAL's module");
        const std::string name = read_line("GLOBAL's name");
        push_global(module, name);
        return false;
      }
      case 0x93: {  // STACK_GLOBAL
        const PickleId name = pop();
        const PickleId module = pop();
        const std::string module_text =
            std::string(expect(module, PickleKind::string, "STACK_GLOBAL's module").str());
        push_global(module_text,
                    std::string(expect(name, PickleKind::string, "STACK_GLOBAL's name").str()));
        return false;
      }
      case 'R':
        reduce();
        return false;
      case 'b':
        build();
        return false;
      case 'Q':
        persistent_id();
        return false;
      case 'P':
        error("text persistent ids (protocol 0) are not supported");
      case 0x97:
        error("out-of-band buffers are not supported (pickle them in-band)");
      case 0x81:
      case 0x92:
      case 'o':
      case 'i':
        error("creating class instances is not allowed (only allow-listed globals are)");
      case 0x82:
      case 0x83:
      case 0x84:
        error("extension registry codes are not allowed");
      case 'F':
      case 'I':
      case 'L':
      case 'S':
      case 'V':
      case 'g':
      case 'p':
        error("text opcodes of protocol 0 are not supported");
      default:
        error("not a pickle opcode");
    }
  }

  std::span<const std::byte> in_;
  PickleOptions opt_;
  PickleDocument doc_;
  std::size_t pos_ = 0, op_pos_ = 0;
  std::uint8_t op_ = 0;
  std::vector<PickleId> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, PickleId> memo_;
  std::unordered_set<std::uint64_t> keys_;                 // (dict id << 32) | key class
  std::unordered_map<PickleId, std::uint64_t> key_class_;  // key value -> its class
  std::unordered_map<std::string, std::uint64_t> key_classes_;
  std::size_t items_ = 0;
};

/// Evaluates the pickle in `bytes` (protocol 2 to 5, exactly one pickle with nothing after
/// its STOP). `source` names the input in errors. Strings and bytes of the result view
/// `bytes`, which must outlive the document (or be kept alive with it).
inline PickleDocument parse_pickle(std::span<const std::byte> bytes, std::string source,
                                   const PickleOptions& options = {}) {
  return PickleReader(bytes, std::move(source), options).run();
}

}  // namespace psalm::io

// Tests for psalm/io/pickle_reader.hpp and pickle_value.hpp on pickles written opcode by opcode
// here (each value checkable by reading pickletools' documentation of the opcode): every
// accepted opcode, the memo and mark semantics of CPython's _pickle.c, the allow-list (every
// other global, class instantiation and persistent id refused), each PickleLimits bound, and
// that every error names the source, byte offset and opcode. The real writers' output (pickle +
// numpy, torch.save) is tested in test_checkpoints.cpp.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "psalm/io/pickle_reader.hpp"
#include "support/error_of.hpp"

using namespace psalm;
using namespace psalm::io;
using namespace std::string_literals;

using psalm::testing::error_of;

namespace {

// Pickle bytes from a string of opcodes (protocol 2 header added).
std::vector<std::byte> pk(const std::string& body, int protocol = 2) {
  std::string s = "\x80"s;
  s += static_cast<char>(protocol);
  s += body;
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}
std::string u32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i)
    s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}
std::string str(const std::string& text) {
  return "X" + u32(static_cast<std::uint32_t>(text.size())) + text;
}

// Parses `b`, keeping the bytes alive for the rest of the test run (strings and bytes of a
// document view its input).
PickleDocument parse(const std::vector<std::byte>& b, const PickleOptions& opt = {}) {
  static std::deque<std::vector<std::byte>> inputs;
  inputs.push_back(b);
  return parse_pickle(inputs.back(), "test.pkl", opt);
}

}  // namespace

TEST_CASE("pickle: scalars of every opcode evaluate to Python's values") {
  struct Case {
    std::string body;
    PickleKind kind;
    std::int64_t integer;
  };
  const std::vector<Case> cases = {
      {"K\xff."s, PickleKind::integer, 255},
      {"M\x01\x02."s, PickleKind::integer, 0x0201},
      {"J\xfe\xff\xff\xff."s, PickleKind::integer, -2},
      {"\x8a\x00."s, PickleKind::integer, 0},       // LONG1 of 0 bytes
      {"\x8a\x01\xff."s, PickleKind::integer, -1},  // sign-extended
      {"\x8a\x02\x00\x80."s, PickleKind::integer, -32768},
      {"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f."s, PickleKind::integer, INT64_MAX},
      {"\x8b\x02\x00\x00\x00\x01\x01."s, PickleKind::integer, 257},  // LONG4
      {"\x88."s, PickleKind::boolean, 1},
      {"\x89."s, PickleKind::boolean, 0},
      {"N.", PickleKind::none, 0},
  };
  for (const Case& c : cases) {
    INFO("opcodes " << c.body.size());
    const PickleDocument d = parse(pk(c.body));
    const PickleNode& n = d.node(d.root());
    CHECK(n.kind == c.kind);
    CHECK(n.integer == c.integer);
  }
  // BINFLOAT is big-endian: 1.5 = 0x3FF8000000000000.
  const PickleDocument f = parse(pk("G\x3f\xf8\x00\x00\x00\x00\x00\x00."s));
  CHECK(f.node(f.root()).kind == PickleKind::floating);
  CHECK(f.node(f.root()).number == 1.5);
  CHECK(f.protocol() == 2);
}

TEST_CASE("pickle: strings and bytes of every width; bytes view the input") {
  const auto b =
      pk(std::string("(") +
             "\x8c\x03"s
             "abc" +
             str("d\xc3\xa9"s) + "\x8d"s + "\x01\x00\x00\x00\x00\x00\x00\x00"s + "z" + "C\x02hi"s +
             "B" + u32(3) + "xyz" + "\x8e"s + "\x01\x00\x00\x00\x00\x00\x00\x00"s + "q" + "\x96"s +
             "\x02\x00\x00\x00\x00\x00\x00\x00"s + "rw" + "U\x02py"s + "T" + u32(1) + "s" + "l.",
         5);
  const PickleDocument d = parse_pickle(b, "test.pkl");  // b outlives d
  const PickleNode& list = d.node(d.root());
  REQUIRE(list.kind == PickleKind::list);
  REQUIRE(list.items.size() == 9);
  CHECK(d.node(list.items[0]).str() == "abc");
  CHECK(d.node(list.items[1]).str() == "d\xc3\xa9"s);
  CHECK(d.node(list.items[2]).str() == "z");
  const char* want[] = {"hi", "xyz", "q", "rw", "py", "s"};
  for (int i = 0; i < 6; ++i) {
    const PickleNode& n = d.node(list.items[3 + static_cast<std::size_t>(i)]);
    REQUIRE(n.kind == PickleKind::bytes);
    CHECK(std::string(reinterpret_cast<const char*>(n.bytes.data()), n.bytes.size()) == want[i]);
    CHECK(n.bytes.data() >= b.data());  // a view, not a copy
    CHECK(n.bytes.data() < b.data() + b.size());
  }
}

TEST_CASE("pickle: containers, memo, DUP, POP and marks follow CPython's unpickler") {
  // {"a": (1, 2), "b": [(1, 2), None], "c": frozenset(3), "d": {5, 6}} with a memoized tuple.
  const std::string body = "}q\x00("s + str("a") + "K\x01K\x02\x86q\x01"s + str("b") +
                           "]q\x02(h\x01Ne"s + str("c") + "(K\x03\x91"s + str("d") +
                           "\x8f(K\x05K\x06\x90"s + "u.";
  const PickleDocument d = parse(pk(body, 4));
  const PickleId root = d.root();
  REQUIRE(d.node(root).kind == PickleKind::dict);
  REQUIRE(d.node(root).items.size() == 8);
  const PickleId a = *d.find(root, "a"), b = *d.find(root, "b");
  CHECK(d.node(a).kind == PickleKind::tuple);
  CHECK(d.node(b).kind == PickleKind::list);
  CHECK(d.node(b).items.size() == 2);
  CHECK(d.node(b).items[0] == a);  // the memo gives the same value, not a copy
  CHECK(d.node(d.node(b).items[1]).kind == PickleKind::none);
  CHECK(d.node(*d.find(root, "c")).kind == PickleKind::set);
  CHECK(d.node(*d.find(root, "d")).items.size() == 2);
  CHECK(!d.find(root, "e"));

  // TUPLE1..3, EMPTY_TUPLE, TUPLE, LIST, DICT; DUP; POP of a value and of an empty MARK;
  // POP_MARK; APPEND; SETITEM; MEMOIZE / LONG_BINPUT / LONG_BINGET.
  const std::string body2 = std::string("(K\x01\x85K\x01K\x02\x86K\x01K\x02K\x03\x87)(K\x07t"s) +
                            "(K\x08l("s + str("k") + "K\x09"s + "d" + "N0" + "(0" + "(NN1" +
                            "]\x94K\x04"s
                            "a2a" +
                            "}" + str("x") + "Ns" + "r\x00\x01\x00\x00"s + "j\x00\x01\x00\x00"s +
                            "l.";
  const PickleDocument e = parse(pk(body2, 4));
  const PickleNode& list = e.node(e.root());
  REQUIRE(list.kind == PickleKind::list);
  REQUIRE(list.items.size() == 10);
  CHECK(e.node(list.items[0]).items.size() == 1);
  CHECK(e.node(list.items[1]).items.size() == 2);
  CHECK(e.node(list.items[2]).items.size() == 3);
  CHECK(e.node(list.items[3]).items.empty());
  CHECK(e.node(list.items[4]).items.size() == 1);
  CHECK(e.node(list.items[5]).kind == PickleKind::list);
  CHECK(e.node(*e.find(list.items[6], "k")).integer == 9);
  const PickleNode& appended = e.node(list.items[7]);  // ]  K4 a  DUP a: [4, itself]
  REQUIRE(appended.items.size() == 2);
  CHECK(appended.items[1] == list.items[7]);
  CHECK(list.items[8] == list.items[9]);  // LONG_BINPUT 256 then LONG_BINGET 256
  CHECK(e.node(list.items[8]).kind == PickleKind::dict);
}

TEST_CASE("pickle: numpy arrays from _reconstruct + BUILD, _frombuffer, scalar, and dtypes") {
  // _reconstruct(ndarray, (0,), b'b') then BUILD (1, (2,), dtype('<i2'), False,
  // b'\x01\x00\xff\xff').
  const std::string dtype_i2 = "cnumpy\ndtype\n" + str("i2") + "\x89\x88\x87R(K\x03"s + str("<") +
                               "NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"s;
  const std::string arr =
      "cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"s
      "C\x01"s
      "b\x87R"s
      "(K\x01K\x02\x85"s +
      dtype_i2 + "\x89"s + "C\x04\x01\x00\xff\xfftb."s;
  const PickleDocument d = parse(pk(arr));
  const PickleNode& n = d.node(d.root());
  REQUIRE(n.kind == PickleKind::ndarray);
  CHECK(n.array->built);
  CHECK(n.array->dtype == SafetensorsDType::I16);
  CHECK(n.array->shape == std::vector<std::int64_t>{2});
  CHECK(n.array->data.size() == 4);

  // The same in numpy 2's module, Fortran order, a big-endian f4 dtype.
  const std::string dtype_f4be = "cnumpy\ndtype\n" + str("f4") + "\x89\x88\x87R(K\x03"s + str(">") +
                                 "NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"s;
  const std::string arr2 =
      "cnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"s
      "C\x01"s
      "b\x87R"s
      "(K\x02K\x03\x86"s +
      dtype_f4be + "\x88"s + "B" + u32(24) + std::string(24, '\0') + "tb.";
  const PickleDocument f = parse(pk(arr2));
  const PickleArray& fa = *f.node(f.root()).array;
  CHECK(fa.big_endian);
  CHECK(fa.shape == std::vector<std::int64_t>{2, 3});
  CHECK(fa.strides == std::vector<std::int64_t>{1, 2});  // Fortran order

  // _frombuffer(bytearray, dtype, shape, order) of protocol 5 and a numpy scalar.
  const std::string fb = std::string("cnumpy.core.numeric\n_frombuffer\n(\x96"s) +
                         "\x08\x00\x00\x00\x00\x00\x00\x00"s + std::string(8, '\x11') + dtype_i2 +
                         "K\x02K\x02\x86"s + str("C") + "tR.";
  const PickleDocument g = parse(pk(fb, 5));
  CHECK(g.node(g.root()).array->shape == std::vector<std::int64_t>{2, 2});
  const std::string scalar = "cnumpy.core.multiarray\nscalar\n" + dtype_i2 + "C\x02\x05\x00\x86R."s;
  const PickleDocument s = parse(pk(scalar));
  CHECK(s.node(s.root()).array->shape.empty());

  // Protocol-2 bytes: _codecs.encode(text, "latin1") and an empty builtins.bytes().
  const PickleDocument c = parse(pk("c_codecs\nencode\n" +
                                    str("\xc3\xbf"s
                                        "a") +
                                    str("latin1") + "\x86R."s));
  const PickleNode& cb = c.node(c.root());
  REQUIRE(cb.kind == PickleKind::bytes);
  REQUIRE(cb.bytes.size() == 2);
  CHECK(static_cast<unsigned char>(cb.bytes[0]) == 0xFF);
  const PickleDocument e = parse(pk("c__builtin__\nbytes\n)R."));
  CHECK(e.node(e.root()).bytes.empty());

  for (const char* bad : {"O8", "U3", "V4", "c16", "f16", "M8", "S2", "i3"}) {
    INFO(bad);
    CHECK_THAT(error_of([&] { parse(pk("cnumpy\ndtype\n" + str(bad) + "\x89\x88\x87R."s)); }),
               Catch::Contains("numpy dtype \"" + std::string(bad) + "\" is not supported"));
  }
}

TEST_CASE("pickle: only allow-listed globals are accepted; nothing is ever instantiated") {
  const char* refused[] = {"os\nsystem",
                           "posix\nsystem",
                           "builtins\neval",
                           "__builtin__\nexec",
                           "subprocess\nPopen",
                           "torch\nload",
                           "numpy\nload",
                           "collections\ndeque",
                           "numpy.core.multiarray\nfromstring",
                           "copyreg\n_reconstructor",
                           "torch._utils\n_rebuild_tensor",
                           "torch\nComplexFloatStorage",
                           "torch.storage\n_load_from_bytes",
                           "builtins\ngetattr"};
  for (const char* g : refused) {
    INFO(g);
    const std::string msg =
        error_of([&] { parse(pk(std::string("c") + g + "\n."), {.torch = true}); });
    CHECK_THAT(msg, Catch::Contains("is not allowed"));
    CHECK_THAT(msg, Catch::Contains("test.pkl: pickle offset 2, opcode GLOBAL (0x63)"));
  }
  // STACK_GLOBAL is checked the same way.
  CHECK_THAT(error_of([&] { parse(pk(str("os") + str("system") + "\x93."s, 4)); }),
             Catch::Contains("global os.system is not allowed"));
  // PyTorch's globals only in torch mode.
  for (const char* g : {"torch._utils\n_rebuild_tensor_v2", "torch\nFloatStorage",
                        "torch._utils\n_rebuild_parameter"}) {
    CHECK_THAT(error_of([&] { parse(pk(std::string("c") + g + "\n.")); }),
               Catch::Contains("only inside a PyTorch zip checkpoint"));
    CHECK_NOTHROW(parse(pk(std::string("c") + g + "\n."), {.torch = true}));
  }
  // Instances, extensions, persistent ids, out-of-band buffers.
  CHECK_THAT(error_of([&] { parse(pk("ccollections\nOrderedDict\n)\x81."s)); }),
             Catch::Contains("opcode NEWOBJ (0x81): creating class instances is not allowed"));
  CHECK_THAT(error_of([&] { parse(pk("ccollections\nOrderedDict\n))}\x92."s, 4)); }),
             Catch::Contains("NEWOBJ_EX"));
  CHECK_THAT(error_of([&] { parse(pk("(ccollections\nOrderedDict\no.")); }),
             Catch::Contains("opcode OBJ"));
  CHECK_THAT(error_of([&] { parse(pk("(i__main__\nX\n.")); }), Catch::Contains("opcode INST"));
  CHECK_THAT(error_of([&] { parse(pk("\x83\x01\x00."s)); }), Catch::Contains("extension registry"));
  CHECK_THAT(error_of([&] { parse(pk("N\x51."s)); }), Catch::Contains("persistent ids occur only"));
  CHECK_THAT(error_of([&] { parse(pk("P1\n.")); }), Catch::Contains("opcode PERSID"));
  // Allowed globals are data only: calling them with the wrong arguments is an error.
  CHECK_THAT(error_of([&] { parse(pk("ccollections\nOrderedDict\n(K\x01tR."s)); }),
             Catch::Contains("collections.OrderedDict takes 0 arguments, got 1"));
  CHECK_THAT(error_of([&] { parse(pk("cnumpy\nndarray\n)R.")); }),
             Catch::Contains("numpy.ndarray cannot be called here"));
  CHECK_THAT(error_of([&] {
               parse(
                   pk("cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\nK\x00\x85"s
                      "C\x01"s
                      "b\x87R."s));
             }),
             Catch::Contains("_reconstruct's class must be numpy.ndarray"));
  // BUILD is allowed on arrays, dtypes and OrderedDicts only.
  CHECK_THAT(error_of([&] { parse(pk("}}b.")); }),
             Catch::Contains("BUILD on dict of 0 items is not allowed"));
  CHECK_NOTHROW(parse(pk("ccollections\nOrderedDict\n)R}b.")));
}

TEST_CASE("pickle: PyTorch tensors over persistent-id storages, bounds-checked") {
  auto tensor = [](const std::string& numel, const std::string& offset, const std::string& size,
                   const std::string& stride) {
    return "ctorch._utils\n_rebuild_tensor_v2\n((" + str("storage") + "ctorch\nBFloat16Storage\n" +
           str("7") + str("cuda:0") + numel + "tQ" + offset + size + stride +
           "\x89"s
           "ccollections\nOrderedDict\n)RtR.";
  };
  const PickleDocument d =
      parse(pk(tensor("K\x0c"s, "K\x02"s, "K\x02K\x03\x86"s, "K\x01K\x02\x86"s)), {.torch = true});
  const PickleNode& t = d.node(d.root());
  REQUIRE(t.kind == PickleKind::torch_tensor);
  CHECK(t.array->dtype == SafetensorsDType::BF16);
  CHECK(t.array->offset == 2);
  CHECK(t.array->shape == std::vector<std::int64_t>{2, 3});
  CHECK(t.array->strides == std::vector<std::int64_t>{1, 2});
  const PickleNode& s = d.node(t.array->storage);
  CHECK(s.kind == PickleKind::torch_storage);
  CHECK(s.text == "7");
  CHECK(s.integer == 12);
  // The largest element index is 2 + 1 * 1 + 2 * 2 = 7: a storage of 7 elements is too small.
  CHECK_THAT(error_of([&] {
               parse(pk(tensor("K\x07"s, "K\x02"s, "K\x02K\x03\x86"s, "K\x01K\x02\x86"s)),
                     {.torch = true});
             }),
             Catch::Contains("reaches element 7 of storage \"7\", which holds 7 elements"));
  CHECK_NOTHROW(parse(pk(tensor("K\x00"s, "K\x09"s, "K\x00K\x03\x86"s, "K\x01K\x02\x86"s)),
                      {.torch = true}));  // empty
  CHECK_THAT(error_of([&] {
               parse(pk(tensor("K\x07"s, "J\xff\xff\xff\xff"s, "K\x01\x85"s, "K\x01\x85"s)),
                     {.torch = true});
             }),
             Catch::Contains("negative storage offset -1"));
  CHECK_THAT(error_of([&] {
               parse(pk(tensor("K\x07"s, "K\x00"s, "K\x01\x85"s, "K\x01K\x01\x86"s)),
                     {.torch = true});
             }),
             Catch::Contains("1 extents but 2 strides"));
  CHECK_THAT(
      error_of([&] {
        parse(pk(tensor("\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f"s, "K\x00"s,
                        "\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x3fK\x03\x86"s, "K\x01K\x01\x86"s)),
              {.torch = true});
      }),
      Catch::Contains("element count overflows"));
  CHECK_THAT(error_of([&] {
               parse(pk(tensor("\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f"s, "K\x01"s, "K\x02\x85"s,
                               "\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f\x85"s)),
                     {.torch = true});
             }),
             Catch::Contains("element offsets overflow"));
}

TEST_CASE("pickle: every PickleLimits bound is enforced and named") {
  PickleOptions small;
  small.limits.max_values = 10;
  CHECK_THAT(error_of([&] { parse(pk("(NNNNNNNNNNNl."), small); }),
             Catch::Contains("more than 10 values (PickleLimits::max_values)"));
  small = {};
  small.limits.max_stack = 4;
  CHECK_THAT(error_of([&] { parse(pk("N2222l."), small); }),
             Catch::Contains("more than 4 values on the stack"));
  small = {};
  small.limits.max_marks = 3;
  CHECK_THAT(error_of([&] { parse(pk("(((("), small); }),
             Catch::Contains("more than 3 open MARKs"));
  small = {};
  small.limits.max_memo = 2;
  CHECK_THAT(error_of([&] { parse(pk("Nq\x00q\x01q\x02."s), small); }),
             Catch::Contains("more than 2 memo entries"));
  CHECK_NOTHROW(parse(pk("Nq\x00q\x01q\x01."s), small));  // overwriting a key is no new entry
  small = {};
  small.limits.max_items = 5;
  CHECK_THAT(error_of([&] { parse(pk("](NNNNNNe."), small); }),
             Catch::Contains("more than 5 container items"));
  small = {};
  small.limits.max_rank = 2;
  CHECK_THAT(
      error_of([&] {
        parse(pk("cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n(K\x00K\x00K\x00tC\x01"s
                 "b\x87R."s),
              small);
      }),
      Catch::Contains("more than 2 (PickleLimits::max_rank)"));
  small = {};
  small.limits.max_global = 4;
  CHECK_THAT(error_of([&] { parse(pk("cnumpy\ndtype\n."), small); }),
             Catch::Contains("longer than 4 bytes"));
}

TEST_CASE("pickle: malformed opcode streams are errors naming source, offset and opcode") {
  struct Case {
    std::string bytes, error;
  };
  const std::vector<Case> cases = {
      {"", "test.pkl: pickle ends at offset 0 before its STOP opcode (the input is empty)"},
      {"}",
       "test.pkl: pickle offset 0, opcode EMPTY_DICT (0x7d): a pickle of protocol 2 to 5 starts "
       "with PROTO"},
      {"\x80\x01."s, "pickle offset 0, opcode PROTO (0x80): pickle protocol 1 is not supported"},
      {"\x80\x06."s, "pickle protocol 6 is not supported"},
      {"\x80\x02\x80\x02N."s, "pickle offset 2, opcode PROTO (0x80): PROTO after the start"},
      {"\x80\x02N"s, "pickle ends at offset 3 before its STOP opcode"},
      {"\x80\x02N.N"s, "1 trailing bytes after the pickle's STOP at offset 3"},
      {"\x80\x02NN."s, "the stack holds 2 values at STOP, not 1"},
      {"\x80\x02(N."s, "1 MARK(s) still open at STOP"},
      {"\x80\x02"s
       "0",
       "pickle offset 2, opcode POP (0x30): stack underflow (the stack is empty)"},
      {"\x80\x02N(a"s, "opcode APPEND (0x61): stack underflow (nothing above the MARK)"},
      {"\x80\x02"s
       "1",
       "no MARK to pop to"},
      {"\x80\x02NNa."s, "APPEND target must be a list, got None"},
      {"\x80\x02)Na."s, "APPEND target must be a list, got tuple of 0 items"},
      {"\x80\x02NNNs."s, "SETITEM(S) target must be a dict, got None"},
      {"\x80\x02}(Nu."s, "odd number of values (1) for SETITEMS"},
      {"\x80\x02(Nd."s, "odd number of values (1) for a dict"},
      {"\x80\x02}NNsNNs."s, "dict key None appears twice"},
      {"\x80\x02}K\x01NsK\x01Ns."s, "dict key int 1 appears twice"},
      {"\x80\x02}K\x01Ns\x88Ns."s, "dict key bool True appears twice"},
      {"\x80\x02}(NN)Nu."s, "dict key tuple of 0 items is not supported"},
      {"\x80\x02]\x90."s, "no MARK to pop to"},
      {"\x80\x02](\x90."s, "ADDITEMS target must be a set, got list of 0 items"},
      {"\x80\x02h\x00."s, "opcode BINGET (0x68): memo key 0 was never stored"},
      {"\x80\x02j\x00\x00\x00\x01."s, "memo key 16777216 was never stored"},
      {"\x80\x02q\x00."s, "stack underflow"},
      {"\x80\x02K"s, "BININT1 of 1 bytes runs past the end of the input (0 bytes left)"},
      {"\x80\x02J\x01\x02"s, "BININT of 4 bytes runs past the end"},
      {"\x80\x02\x8a\x09"s
       "123456789.",
       "integer of 9 bytes does not fit in 64 bits"},
      {"\x80\x02T\xff\xff\xff\xff"s, "negative BINSTRING length -1"},
      {"\x80\x04\x8c\x01\x80."s, "not valid UTF-8"},
      {"\x80\x04\x8c\x03\xed\xa0\x80."s, "not valid UTF-8"},  // a surrogate
      {"\x80\x04\x8c\x02\xc0\x80."s, "not valid UTF-8"},      // overlong
      {"\x80\x04\x8c\x01\xc3."s, "not valid UTF-8"},          // cut sequence
      {"\x80\x02"s
       "c\x01\n\n."s,
       "GLOBAL's module holds a byte that is not printable ASCII"},
      {"\x80\x04NN\x93."s, "STACK_GLOBAL's module must be a str"},
      {"\x80\x02"s
       "cnumpy\ndtype\nNR.",
       "REDUCE's arguments must be a tuple, got None"},
      {"\x80\x02N)R."s, "REDUCE's callable must be a global, got None"},
      {"\x80\x02N\x98."s, "READONLY_BUFFER's operand must be a bytes"},
      {"\x80\x02\x00."s, "unknown opcode 0x00"},
      {"\x80\x02S'a'\n."s, "text opcodes of protocol 0"},
      {"\x80\x02"s
       "F1.0\n.",
       "text opcodes of protocol 0"},
      {"\x80\x02g1\n."s, "text opcodes of protocol 0"},
  };
  for (const Case& c : cases) {
    INFO("case: " << c.error);
    std::vector<std::byte> b(c.bytes.size());
    if (!b.empty()) std::memcpy(b.data(), c.bytes.data(), c.bytes.size());
    CHECK_THAT(error_of([&] { parse(b); }), Catch::Contains(c.error));
  }
}

TEST_CASE("pickle: values share the arena; describe() gives short descriptions") {
  const PickleDocument d =
      parse(pk("(" + str(std::string(50, 'x')) + "G\x3f\xf8\x00\x00\x00\x00\x00\x00"s +
                   "C\x03"s
                   "abcccollections\nOrderedDict\n)R]N\x88t."s,
               2));
  const PickleNode& t = d.node(d.root());
  REQUIRE(t.items.size() == 7);
  CHECK(d.describe(t.items[0]) == "str \"" + std::string(40, 'x') + "...\"");
  CHECK(d.describe(t.items[1]) == "float 1.5");
  CHECK(d.describe(t.items[2]) == "bytes of length 3");
  CHECK(d.describe(t.items[3]) == "dict of 0 items");
  CHECK(d.node(t.items[3]).ordered);
  CHECK(d.describe(t.items[4]) == "list of 0 items");
  CHECK(d.describe(t.items[5]) == "None");
  CHECK(d.describe(t.items[6]) == "bool True");
  CHECK(d.describe(d.root()) == "tuple of 7 items");
  CHECK_THROWS_AS(d.node(1000), Error);
}

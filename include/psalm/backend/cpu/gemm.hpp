// psalm/backend/cpu/gemm.hpp — GEMM on the CPU through a library, behind Gemm<cpu>::run.
// Engines: OpenBLAS (cblas), oneDNN (matmul primitive, the only one here with a bf16 kernel:
// bf16 operands, f32 accumulation), and Eigen (portable fallback). `automatic` picks by
// measurement (docs/performance.md, benchmarks/gemm.cpp): one-row / one-column f32 and bf16
// products -> psalm's GEMV kernels (backend/cpu/gemv.hpp: no packing of the matrix), f32 ->
// OpenBLAS for single products and oneDNN for batches (oneDNN for single products too when
// OpenBLAS fell back to its generic pre-AVX2 kernels on a CPU it does not recognise: 0.3.21
// picks "Prescott" on Sapphire Rapids VMs, 4.7x slower than oneDNN there), f64 -> OpenBLAS, bf16 ->
// oneDNN where the CPU has bf16 kernels (AVX512-BF16 / AMX; decided at run time), else bf16 widened
// to f32 and the f32 choice (oneDNN 2.6 has no bf16 matmul on AVX2-only CPUs). oneDNN sees plain
// row-major layouts (2-D when there is no batch: a batch axis of stride 0 made it choose its
// reference kernel), bf16 operands with padded rows are compacted first (its brgemm kernel
// needs dense ones), primitives are created once per geometry and cached, and geometries for
// which oneDNN only has its reference ("ref:any") kernel go to another engine. A constant B
// with a PackedOperand slot is reordered once into the weights layout oneDNN prefers.
// Depends on: tensor/matmul, backend/cpu/gemv, OpenBLAS, oneDNN, Eigen.
// Test: tests/backend/test_gemm.cpp.
#pragma once

#include <cblas.h>

#include <omp.h>
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "psalm/backend/cpu/executor.hpp"
#include "psalm/backend/cpu/gemv.hpp"
#include "psalm/tensor/matmul.hpp"

namespace psalm {

enum class CpuGemmEngine { automatic, openblas, onednn, eigen };

namespace cpu_backend {

/// True when OpenBLAS runs kernels older than the CPU (it did not recognise the CPU and fell
/// back to a generic pre-AVX2 core, e.g. "Prescott" for a Sapphire Rapids VM in 0.3.21) while
/// the CPU has AVX2: its f32 products then run at a fraction of oneDNN's (docs/performance.md),
/// so single f32 products go to oneDNN as well. OPENBLAS_CORETYPE set by the user is respected
/// (OpenBLAS then reports that core). Decided once.
inline bool openblas_kernels_generic() {
  static const bool generic = [] {
    const char* name = openblas_get_corename();
    const std::string core = name != nullptr ? name : "";
    static constexpr const char* kPreAvx2[] = {
        "Prescott",  "Core2",      "Penryn",    "Dunnington", "Nehalem", "Atom",
        "Katmai",    "Coppermine", "Northwood", "Banias",     "Opteron", "Opteron_SSE3",
        "Barcelona", "Bobcat",     "Nano",      "Unknown",    "unknown", "generic"};
    const bool old_core = std::any_of(std::begin(kPreAvx2), std::end(kPreAvx2),
                                      [&](const char* c) { return core == c; });
    return old_core && __builtin_cpu_supports("avx2");
  }();
  return generic;
}

inline void gemm_openblas(const GemmProblem<float>& p) {
  for (std::int64_t i = 0; i < p.batch; ++i)
    cblas_sgemm(CblasRowMajor, p.trans_a ? CblasTrans : CblasNoTrans,
                p.trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(p.m), static_cast<int>(p.n),
                static_cast<int>(p.k), static_cast<float>(p.alpha), p.a + i * p.stride_a,
                static_cast<int>(p.lda), p.b + i * p.stride_b, static_cast<int>(p.ldb),
                static_cast<float>(p.beta), p.c + i * p.stride_c, static_cast<int>(p.ldc));
}

inline void gemm_openblas(const GemmProblem<double>& p) {
  for (std::int64_t i = 0; i < p.batch; ++i)
    cblas_dgemm(CblasRowMajor, p.trans_a ? CblasTrans : CblasNoTrans,
                p.trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(p.m), static_cast<int>(p.n),
                static_cast<int>(p.k), p.alpha, p.a + i * p.stride_a, static_cast<int>(p.lda),
                p.b + i * p.stride_b, static_cast<int>(p.ldb), p.beta, p.c + i * p.stride_c,
                static_cast<int>(p.ldc));
}

/// The process-wide oneDNN CPU engine and stream (created once, never modified).
inline dnnl::engine& onednn_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

/// The instruction set oneDNN's kernels use on this CPU (after ONEDNN_MAX_CPU_ISA).
inline const char* onednn_isa_name() {
  using isa = dnnl::cpu_isa;
  switch (dnnl::get_effective_cpu_isa()) {
    case isa::sse41:
      return "sse41";
    case isa::avx:
      return "avx";
    case isa::avx2:
      return "avx2";
    case isa::avx2_vnni:
      return "avx2_vnni";
    case isa::avx512_core:
      return "avx512_core";
    case isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

/// Products of at most this many multiply-adds run on one thread, as OpenBLAS does (its
/// SMP_THRESHOLD_MIN x GEMM_MULTITHREAD_THRESHOLD): waking a second thread costs more than the
/// product, and on a loaded machine a parallel region costs a scheduling delay (tens of ms).
inline constexpr double kSerialGemmMacs = 65536.0 * 4.0;

template <class T>
bool serial_gemm(const GemmProblem<T>& p) {
  return static_cast<double>(p.batch) * static_cast<double>(p.m) * static_cast<double>(p.n) *
             static_cast<double>(p.k) <=
         kSerialGemmMacs;
}

/// Sets OpenMP's thread count of the calling thread to 1 for its lifetime when `serial` (oneDNN
/// plans and runs a primitive for omp_get_max_threads() threads).
class SerialOmpScope {
 public:
  explicit SerialOmpScope(bool serial) : saved_(serial ? omp_get_max_threads() : 0) {
    if (saved_ > 0) omp_set_num_threads(1);
  }
  ~SerialOmpScope() {
    if (saved_ > 0) omp_set_num_threads(saved_);
  }
  SerialOmpScope(const SerialOmpScope&) = delete;
  SerialOmpScope& operator=(const SerialOmpScope&) = delete;

 private:
  int saved_;
};

/// What identifies a oneDNN matmul primitive: element type, the problem's geometry, whether
/// the weights are described as `any` (a packed B), and whether it runs on one thread.
struct OnednnKey {
  int type;
  std::int64_t batch, m, n, k, lda, ldb, ldc, stride_a, stride_b, stride_c;
  bool trans_a, trans_b;
  double alpha, beta;
  bool packed_b, serial;
  auto operator<=>(const OnednnKey&) const = default;
};

/// A created matmul primitive and the name of the implementation oneDNN chose for it. With a
/// packed B, `b` is the layout oneDNN chose and `b_plain` the stored one.
struct OnednnMatmul {
  dnnl::matmul primitive;
  dnnl::memory::desc a, b, c, b_plain;
  std::string impl;
  bool packed_b = false;  // b differs from b_plain: B must be reordered into b
};

/// rows x cols matrices (a batch of them when batch > 1, a 2-D one otherwise), row `ld` apart,
/// `stride` apart in the batch (0: one matrix for the whole batch), stored transposed when
/// `trans`. Row-major strides throughout, so oneDNN sees plain `ab` / `ba` / `abc` layouts.
inline dnnl::memory::desc onednn_desc(std::int64_t batch, std::int64_t rows, std::int64_t cols,
                                      std::int64_t ld, std::int64_t stride, bool trans,
                                      dnnl::memory::data_type type) {
  using dims = dnnl::memory::dims;
  if (batch == 1) return {dims{rows, cols}, type, trans ? dims{1, ld} : dims{ld, 1}};
  // A broadcast matrix (stride 0) is a batch axis of extent 1; its stride only has to look
  // like the outermost one (a zero stride made oneDNN infer an odd layout and fall back to its
  // reference kernel).
  const std::int64_t s = stride != 0 ? stride : (trans ? cols : rows) * ld;
  return {dims{stride == 0 ? 1 : batch, rows, cols}, type, trans ? dims{s, 1, ld} : dims{s, ld, 1}};
}

/// The primitive for `p`, created once per geometry and cached. Empty when oneDNN only offers
/// its reference implementation ("ref:any"): those run scalar loops, up to 1000x slower than
/// OpenBLAS (a transposed batched f32 product took 12.8 s), so the caller takes another engine.
/// With `packed_b`, the weights are described as `any` and oneDNN picks their layout.
template <class T>
const OnednnMatmul* onednn_matmul(const GemmProblem<T>& p, bool packed_b = false) {
  using dt = dnnl::memory::data_type;
  static_assert(!std::is_same_v<T, double>, "oneDNN 2.6 has no f64 matmul");
  constexpr dt in_type = std::is_same_v<T, bf16> ? dt::bf16 : dt::f32;
  static std::mutex mutex;
  static std::map<OnednnKey, std::optional<OnednnMatmul>> cache;
  const OnednnKey key{static_cast<int>(in_type),
                      p.batch,
                      p.m,
                      p.n,
                      p.k,
                      p.lda,
                      p.ldb,
                      p.ldc,
                      p.stride_a,
                      p.stride_b,
                      p.stride_c,
                      p.trans_a,
                      p.trans_b,
                      p.alpha,
                      p.beta,
                      packed_b,
                      serial_gemm(p)};
  const std::lock_guard<std::mutex> lock(mutex);
  if (const auto found = cache.find(key); found != cache.end())
    return found->second ? &*found->second : nullptr;
  const dnnl::memory::desc a_md =
      onednn_desc(p.batch, p.m, p.k, p.lda, p.stride_a, p.trans_a, in_type);
  const dnnl::memory::desc b_md =
      onednn_desc(p.batch, p.k, p.n, p.ldb, p.stride_b, p.trans_b, in_type);
  const dnnl::memory::desc c_md = onednn_desc(p.batch, p.m, p.n, p.ldc, p.stride_c, false, dt::f32);
  dnnl::primitive_attr attr;
  if (p.alpha != 1.0) attr.set_output_scales(0, {static_cast<float>(p.alpha)});
  if (p.beta != 0.0) {
    dnnl::post_ops ops;
    ops.append_sum(static_cast<float>(p.beta));
    attr.set_post_ops(ops);
  }
  std::optional<OnednnMatmul> entry;
  try {
    const SerialOmpScope serial(serial_gemm(p));  // the primitive is planned for this many threads
    const dnnl::memory::desc b_want =
        packed_b ? dnnl::memory::desc(b_md.dims(), in_type, dnnl::memory::format_tag::any) : b_md;
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_want, c_md), attr,
                                          onednn_engine());
    std::string impl = pd.impl_info_str();
    if (!impl.starts_with("ref")) {
      const dnnl::memory::desc chosen = pd.weights_desc();
      entry = OnednnMatmul{dnnl::matmul(pd), a_md, chosen, c_md, b_md, impl, chosen != b_md};
    }
  } catch (const dnnl::error&) {
    // no implementation at all for this geometry: another engine runs it
  }
  const auto& stored = cache.emplace(key, std::move(entry)).first->second;
  return stored ? &*stored : nullptr;
}

/// B reordered into the layout of `mm`, kept in `slot` (one copy per source pointer and layout,
/// at most four) and rebuilt when B's values no longer match the sampled fingerprint.
struct OnednnPackedWeights {
  struct Copy {
    const void* source;
    dnnl::memory::desc layout;
    std::uint64_t fingerprint;
    dnnl::memory memory;
  };
  std::vector<Copy> copies;
};

/// A cheap fingerprint of a matrix: the bits of up to 256 evenly spaced elements.
template <class T>
std::uint64_t sampled_fingerprint(const T* data, const dnnl::memory::desc& md) {
  const std::int64_t rows = md.dims()[md.dims().size() - 2], cols = md.dims().back();
  const auto& strides = md.data.format_desc.blocking.strides;
  const int r = md.data.ndims;
  const std::int64_t count = rows * cols, step = std::max<std::int64_t>(1, count / 256);
  std::uint64_t h = 1469598103934665603ull;
  for (std::int64_t e = 0; e < count; e += step) {
    const std::int64_t i = e / cols, j = e % cols;
    std::uint32_t bits = 0;
    std::memcpy(&bits, data + i * strides[r - 2] + j * strides[r - 1], sizeof(T));
    h = (h ^ bits) * 1099511628211ull;
  }
  return h;
}

template <class T>
dnnl::memory onednn_packed_b(const GemmProblem<T>& p, const OnednnMatmul& mm) {
  auto& engine = onednn_engine();
  const std::uint64_t fingerprint = sampled_fingerprint(p.b, mm.b_plain);
  return p.packed_b->with_state([&](std::any& state) {
    if (state.type() != typeid(OnednnPackedWeights)) state = OnednnPackedWeights{};
    auto& packed = std::any_cast<OnednnPackedWeights&>(state);
    for (auto& copy : packed.copies)
      if (copy.source == p.b && copy.layout == mm.b) {
        if (copy.fingerprint == fingerprint) return copy.memory;
        copy.fingerprint = fingerprint;  // B changed in place: reorder again below
        dnnl::memory plain(mm.b_plain, engine, const_cast<T*>(p.b));
        dnnl::stream stream(engine);
        dnnl::reorder(plain, copy.memory).execute(stream, plain, copy.memory);
        stream.wait();
        return copy.memory;
      }
    if (packed.copies.size() >= 4) packed.copies.erase(packed.copies.begin());
    dnnl::memory plain(mm.b_plain, engine, const_cast<T*>(p.b)), out(mm.b, engine);
    dnnl::stream stream(engine);
    dnnl::reorder(plain, out).execute(stream, plain, out);
    stream.wait();
    packed.copies.push_back({p.b, mm.b, fingerprint, out});
    return out;
  });
}

/// True when `p` may use a packed B: a slot is given and B is one matrix for the whole batch.
template <class T>
bool wants_packed_b(const GemmProblem<T>& p) {
  return std::is_same_v<T, bf16> && p.packed_b != nullptr && (p.batch == 1 || p.stride_b == 0);
}

/// Runs `p` through oneDNN; false (nothing done) when oneDNN has no fast implementation.
template <class T>
bool gemm_onednn(const GemmProblem<T>& p) {
  const OnednnMatmul* mm = onednn_matmul(p, wants_packed_b(p));
  if (mm == nullptr) return false;
  auto& engine = onednn_engine();
  dnnl::memory a_mem(mm->a, engine, const_cast<T*>(p.a)), c_mem(mm->c, engine, p.c);
  const dnnl::memory b_mem =
      mm->packed_b ? onednn_packed_b(p, *mm) : dnnl::memory(mm->b, engine, const_cast<T*>(p.b));
  dnnl::stream stream(engine);
  const SerialOmpScope serial(serial_gemm(p));
  mm->primitive.execute(stream,
                        {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
  stream.wait();
  return true;
}

/// True when oneDNN can run a bf16 x bf16 -> f32 matmul on this CPU (checked once).
inline bool onednn_has_bf16() {
  static const bool supported = [] {
    try {
      using dt = dnnl::memory::data_type;
      const dnnl::memory::desc a({16, 16}, dt::bf16, dnnl::memory::format_tag::ab);
      const dnnl::memory::desc c({16, 16}, dt::f32, dnnl::memory::format_tag::ab);
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, a, c), onednn_engine());
      return !std::string(pd.impl_info_str()).starts_with("ref");
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return supported;
}

/// True when a stored operand (rows x cols, row `ld` apart, `stride` apart in a batch of
/// `batch`; stride 0: one matrix) has gaps between its rows or batch items.
inline bool operand_padded(std::int64_t batch, std::int64_t rows, std::int64_t cols,
                           std::int64_t ld, std::int64_t stride) {
  return (rows > 1 && ld != cols) || (batch > 1 && stride != 0 && stride != rows * cols);
}

/// Which of A and B (as stored) have gaps; a B kept in a PackedOperand slot never needs
/// compacting (its reorder reads any layout).
template <class T>
std::pair<bool, bool> padded_operands(const GemmProblem<T>& p) {
  const bool a =
      operand_padded(p.batch, p.trans_a ? p.k : p.m, p.trans_a ? p.m : p.k, p.lda, p.stride_a);
  const bool b = p.packed_b == nullptr && operand_padded(p.batch, p.trans_b ? p.n : p.k,
                                                         p.trans_b ? p.k : p.n, p.ldb, p.stride_b);
  return {a, b};
}

/// `p` with its padded operands described as dense (same layouts, no gaps). With `keep`, the
/// operands are copied into dense buffers held there; without, only the geometry changes.
inline GemmProblem<bf16> compacted(const GemmProblem<bf16>& p, std::vector<Tensor<bf16>>* keep) {
  GemmProblem<bf16> q = p;
  auto pack = [&](const bf16* x, std::int64_t stride, std::int64_t rows, std::int64_t cols,
                  std::int64_t ld, const bf16*& out, std::int64_t& out_ld,
                  std::int64_t& out_stride) {
    out_ld = cols;
    out_stride = stride == 0 ? 0 : rows * cols;
    if (keep == nullptr) return;
    const std::int64_t items = stride == 0 ? 1 : p.batch;
    Tensor<bf16> dense(Shape{items * rows, cols});  // (items * rows, cols)
    bf16* d = dense.data();
    Executor<cpu>::parallel_for(items * rows, 256, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t br = begin; br < end; ++br)
        std::memcpy(d + br * cols, x + (br / rows) * stride + (br % rows) * ld,
                    static_cast<std::size_t>(cols) * sizeof(bf16));
    });
    out = d;
    keep->push_back(dense);
  };
  const auto [pad_a, pad_b] = padded_operands(p);
  if (pad_a)
    pack(p.a, p.stride_a, p.trans_a ? p.k : p.m, p.trans_a ? p.m : p.k, p.lda, q.a, q.lda,
         q.stride_a);
  if (pad_b)
    pack(p.b, p.stride_b, p.trans_b ? p.n : p.k, p.trans_b ? p.k : p.n, p.ldb, q.b, q.ldb,
         q.stride_b);
  return q;
}

template <class T>
void gemm(const GemmProblem<T>& p, CpuGemmEngine engine = CpuGemmEngine::automatic);
template <class T>
std::string gemm_implementation(const GemmProblem<T>& p,
                                CpuGemmEngine engine = CpuGemmEngine::automatic);

/// The f32 problem of `p` with both operands widened into dense buffers (same layouts);
/// pointers left null (set by gemm_bf16_via_f32).
inline GemmProblem<float> widened_geometry(const GemmProblem<bf16>& p) {
  GemmProblem<float> q;
  q.batch = p.batch;
  q.m = p.m;
  q.n = p.n;
  q.k = p.k;
  q.lda = p.trans_a ? p.m : p.k;
  q.stride_a = p.stride_a == 0 ? 0 : p.m * p.k;
  q.trans_a = p.trans_a;
  q.ldb = p.trans_b ? p.k : p.n;
  q.stride_b = p.stride_b == 0 ? 0 : p.k * p.n;
  q.trans_b = p.trans_b;
  q.c = p.c;
  q.ldc = p.ldc;
  q.stride_c = p.stride_c;
  q.alpha = p.alpha;
  q.beta = p.beta;
  return q;
}

/// bf16 operands widened to f32 (dense, exact), then an f32 GEMM with `f32_engine` (OpenBLAS
/// by request; automatic in the fallback, so batches still run as one oneDNN primitive).
inline void gemm_bf16_via_f32(const GemmProblem<bf16>& p,
                              CpuGemmEngine f32_engine = CpuGemmEngine::openblas) {
  auto widen = [](const bf16* x, std::int64_t batch, std::int64_t stride, std::int64_t rows,
                  std::int64_t cols, std::int64_t ld) {
    Tensor<float> out(Shape{batch * rows, cols});  // (batch * rows, cols)
    float* o = out.data();
    Executor<cpu>::parallel_for(batch * rows, 64, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t br = begin; br < end; ++br) {
        const bf16* src = x + (br / rows) * stride + (br % rows) * ld;
        float* dst = o + br * cols;
        for (std::int64_t j = 0; j < cols; ++j) dst[j] = static_cast<float>(src[j]);
      }
    });
    return out;
  };
  const std::int64_t a_batch = p.stride_a == 0 ? 1 : p.batch,
                     b_batch = p.stride_b == 0 ? 1 : p.batch;
  const std::int64_t a_rows = p.trans_a ? p.k : p.m, a_cols = p.trans_a ? p.m : p.k;
  const std::int64_t b_rows = p.trans_b ? p.n : p.k, b_cols = p.trans_b ? p.k : p.n;
  const Tensor<float> a = widen(p.a, a_batch, p.stride_a, a_rows, a_cols, p.lda);
  const Tensor<float> b = widen(p.b, b_batch, p.stride_b, b_rows, b_cols, p.ldb);
  GemmProblem<float> q = widened_geometry(p);
  q.a = a.data();
  q.b = b.data();
  if (f32_engine == CpuGemmEngine::openblas)
    gemm_openblas(q);
  else
    gemm(q, f32_engine);
}

template <class T>
void gemm_eigen(const GemmProblem<T>& p) {
  using Out = typename GemmProblem<T>::Out;
  using C = std::conditional_t<std::is_same_v<T, bf16>, float, T>;
  using Mat = Eigen::Matrix<C, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Stride = Eigen::OuterStride<>;
  for (std::int64_t i = 0; i < p.batch; ++i) {
    const T* a = p.a + i * p.stride_a;
    const T* b = p.b + i * p.stride_b;
    Eigen::Map<Eigen::Matrix<Out, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Stride> c(
        p.c + i * p.stride_c, p.m, p.n, Stride(p.ldc));
    auto load = [](const T* x, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
      Mat m(rows, cols);
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t s = 0; s < cols; ++s) m(r, s) = convert<C>(x[r * ld + s]);
      return m;
    };
    const Mat ma = p.trans_a ? Mat(load(a, p.k, p.m, p.lda).transpose()) : load(a, p.m, p.k, p.lda);
    const Mat mb = p.trans_b ? Mat(load(b, p.n, p.k, p.ldb).transpose()) : load(b, p.k, p.n, p.ldb);
    if (p.beta == 0.0)
      c.noalias() = (static_cast<C>(p.alpha) * (ma * mb)).template cast<Out>();
    else
      c = (static_cast<C>(p.alpha) * (ma * mb)).template cast<Out>() + static_cast<Out>(p.beta) * c;
  }
}

/// How gemm() runs a problem: the route and, for oneDNN, the primitive it uses.
enum class GemmRoute {
  nothing,
  scale_only,
  gemv,
  openblas,
  openblas_widened,
  widened,
  onednn,
  eigen
};

template <class T>
struct GemmPlan {
  GemmRoute route = GemmRoute::nothing;
  const OnednnMatmul* onednn = nullptr;  // for GemmRoute::onednn
  bool compact = false;                  // bf16 operands copied to dense buffers first
};

/// The route gemm(p, engine) takes (creating and caching the oneDNN primitive it needs).
template <class T>
GemmPlan<T> plan_gemm(const GemmProblem<T>& p, CpuGemmEngine engine) {
  GemmPlan<T> plan;
  if (p.m == 0 || p.n == 0 || p.batch == 0) return plan;
  if (p.k == 0) {
    plan.route = GemmRoute::scale_only;
    return plan;
  }
  if (engine == CpuGemmEngine::automatic) {
    if constexpr (!std::is_same_v<T, double>) {
      if (is_gemv(p)) {
        plan.route = GemmRoute::gemv;
        return plan;
      }
    }
    if constexpr (std::is_same_v<T, bf16>) {
      if (!onednn_has_bf16()) {  // no bf16 kernels on this CPU (oneDNN 2.6 on AVX2)
        plan.route = GemmRoute::widened;
        return plan;
      }
      engine = CpuGemmEngine::onednn;
    } else if constexpr (std::is_same_v<T, double>)
      engine = CpuGemmEngine::openblas;
    else
      engine = p.batch > 1 || openblas_kernels_generic() ? CpuGemmEngine::onednn
                                                         : CpuGemmEngine::openblas;
  }
  switch (engine) {
    case CpuGemmEngine::openblas:
      plan.route = std::is_same_v<T, bf16> ? GemmRoute::openblas_widened : GemmRoute::openblas;
      return plan;
    case CpuGemmEngine::onednn:
      if constexpr (std::is_same_v<T, double>) {
        fail("gemm: oneDNN has no f64 GEMM; use OpenBLAS or Eigen");
      } else {
        if constexpr (std::is_same_v<T, bf16>) {
          PSALM_CHECK(onednn_has_bf16(),
                      "gemm: oneDNN has no bf16 matmul on this CPU (needs "
                      "AVX512-BF16 or AMX); use the OpenBLAS or Eigen engine");
          const auto [pad_a, pad_b] = padded_operands(p);
          plan.compact = pad_a || pad_b;  // brgemm needs dense rows (gemm:jit is 2x slower)
        }
        GemmProblem<T> geometry = p;
        if constexpr (std::is_same_v<T, bf16>) {
          if (plan.compact) geometry = compacted(p, nullptr);
        }
        plan.onednn = onednn_matmul(geometry, wants_packed_b(p));
        if (plan.onednn != nullptr)
          plan.route = GemmRoute::onednn;
        else
          plan.route = std::is_same_v<T, bf16> ? GemmRoute::openblas_widened : GemmRoute::openblas;
        return plan;
      }
      return plan;
    case CpuGemmEngine::eigen:
      plan.route = GemmRoute::eigen;
      return plan;
    case CpuGemmEngine::automatic:
      return plan;
  }
  return plan;
}

/// What gemm(p, engine) runs, for benchmarks and logs: "onednn brg:avx512_core_amx_bf16",
/// "gemv avx512", "openblas", "openblas (bf16 widened to f32)", ...
template <class T>
std::string gemm_implementation(const GemmProblem<T>& p, CpuGemmEngine engine) {
  const GemmPlan<T> plan = plan_gemm(p, engine);
  switch (plan.route) {
    case GemmRoute::nothing:
      return "nothing (empty)";
    case GemmRoute::scale_only:
      return "scale (k = 0)";
    case GemmRoute::gemv:
      return std::string("gemv ") + isa_name(cpu_isa());
    case GemmRoute::openblas:
      return "openblas";
    case GemmRoute::openblas_widened:
      return "openblas (bf16 widened to f32)";
    case GemmRoute::widened:
      if constexpr (std::is_same_v<T, bf16>)
        return "bf16 widened to f32, then " + gemm_implementation(widened_geometry(p));
      return "?";
    case GemmRoute::onednn:
      return "onednn " + plan.onednn->impl + (plan.onednn->packed_b ? " (packed B)" : "") +
             (plan.compact ? " (compacted)" : "");
    case GemmRoute::eigen:
      return "eigen";
  }
  return "?";
}

/// Runs `p` with an explicit engine (tests compare engines; benchmarks measure them).
template <class T>
void gemm(const GemmProblem<T>& p, CpuGemmEngine engine) {
  const GemmPlan<T> plan = plan_gemm(p, engine);
  switch (plan.route) {
    case GemmRoute::nothing:
      return;
    case GemmRoute::scale_only:  // no products to sum: C = beta C
      for (std::int64_t i = 0; i < p.batch; ++i)
        for (std::int64_t r = 0; r < p.m; ++r)
          for (std::int64_t s = 0; s < p.n; ++s) {
            auto& v = p.c[i * p.stride_c + r * p.ldc + s];
            v = p.beta == 0.0 ? 0 : static_cast<std::remove_reference_t<decltype(v)>>(p.beta * v);
          }
      return;
    case GemmRoute::gemv:
      if constexpr (!std::is_same_v<T, double>) gemv(p);
      return;
    case GemmRoute::widened:
      if constexpr (std::is_same_v<T, bf16>) gemm_bf16_via_f32(p, CpuGemmEngine::automatic);
      return;
    case GemmRoute::openblas:
    case GemmRoute::openblas_widened:
      if constexpr (std::is_same_v<T, bf16>) {
        gemm_bf16_via_f32(p);  // OpenBLAS 0.3.21 in Debian has no sbgemm: widen to f32
      } else {
        gemm_openblas(p);
      }
      return;
    case GemmRoute::onednn:
      if constexpr (std::is_same_v<T, bf16>) {
        if (plan.compact) {
          std::vector<Tensor<bf16>> keep;
          const GemmProblem<bf16> q = compacted(p, &keep);
          if (!gemm_onednn(q)) gemm_bf16_via_f32(p, CpuGemmEngine::automatic);
          return;
        }
        if (!gemm_onednn(p)) gemm_bf16_via_f32(p, CpuGemmEngine::automatic);  // only a ref kernel
      } else if constexpr (std::is_same_v<T, float>) {
        if (!gemm_onednn(p)) gemm_openblas(p);
      }
      return;
    case GemmRoute::eigen:
      gemm_eigen(p);
      return;
  }
}

/// Runs every CPU loop and engine on `threads` threads from now on: psalm's OpenMP loops and
/// oneDNN (OpenMP) and OpenBLAS (its own pool). Data-parallel ranks on one machine each take
/// their share of the cores (`psalm train --threads`).
inline void set_threads(int threads) {
  PSALM_CHECK(threads >= 1, "set_threads: need at least one thread, got ", threads);
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

}  // namespace cpu_backend

template <>
struct Gemm<cpu> {
  template <class T>
  static void run(const GemmProblem<T>& p) {
    cpu_backend::gemm(p);
  }
};

}  // namespace psalm

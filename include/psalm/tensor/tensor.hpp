// psalm/tensor/tensor.hpp — Tensor<T, Dev>: shared storage + shape + strides + offset.
// Copying a Tensor shares its storage (like torch.Tensor); views (reshape, permute, slice,
// expand, ...) never copy; clone() and contiguous() do. Elementwise maths builds expressions
// (tensor/expr.hpp) that assign() or construction evaluates in one pass.
// Depends on: core, tensor/memory, tensor/executor. Test: tests/tensor/test_tensor.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "psalm/core/device.hpp"
#include "psalm/core/dtype.hpp"
#include "psalm/core/error.hpp"
#include "psalm/core/shape.hpp"
#include "psalm/tensor/executor.hpp"
#include "psalm/tensor/memory.hpp"

namespace psalm {

template <Scalar T, Device Dev>
class Tensor;

namespace detail {
template <class X>
struct is_tensor : std::false_type {};
template <Scalar T, Device D>
struct is_tensor<Tensor<T, D>> : std::true_type {};
}  // namespace detail

/// True for any Tensor<T, Dev>.
template <class X>
concept AnyTensor = detail::is_tensor<std::remove_cvref_t<X>>::value;

template <Scalar T, Device Dev = cpu>
class Tensor {
 public:
  using value_type = T;
  using device_type = Dev;

  /// An undefined tensor: no storage, shape (). `defined()` is false.
  Tensor() = default;

  /// A new contiguous tensor of `shape` with uninitialised elements.
  explicit Tensor(const Shape& shape)
      : shape_(shape), strides_(shape.contiguous_strides()), defined_(true) {
    const std::int64_t bytes = checked::mul(shape.numel(), sizeof(T), "tensor byte size");
    T* raw = static_cast<T*>(Memory<Dev>::allocate(static_cast<std::size_t>(bytes)));
    storage_ = std::shared_ptr<T>(
        raw, [bytes](T* p) { Memory<Dev>::release(p, static_cast<std::size_t>(bytes)); });
    data_ = raw;
  }

  /// Builds a tensor from an expression, evaluated in one pass (see tensor/expr.hpp).
  template <class E>
  requires requires { typename E::is_psalm_expression; }
  Tensor(const E& expression);  // NOLINT(google-explicit-constructor): y = a * b + c reads best

  // ---- factories ------------------------------------------------------------------------------
  static Tensor empty(const Shape& shape) { return Tensor(shape); }
  static Tensor zeros(const Shape& shape) { return full(shape, T{}); }
  static Tensor ones(const Shape& shape) { return full(shape, convert<T>(1)); }
  static Tensor full(const Shape& shape, T value);
  /// [start, start + step, ...) up to but excluding stop, as torch.arange.
  static Tensor arange(double start, double stop, double step = 1.0);
  static Tensor arange(std::int64_t stop) { return arange(0.0, static_cast<double>(stop)); }
  /// Uniform in [0, 1); element i draws CounterRng{seed, stream}.uniform(i) on any device.
  static Tensor rand(const Shape& shape, std::uint64_t seed, std::uint64_t stream = 0);
  /// Normal(mean, std); element i draws CounterRng{seed, stream}.normal(i) on any device.
  static Tensor randn(const Shape& shape, std::uint64_t seed, double mean = 0.0, double std = 1.0,
                      std::uint64_t stream = 0);
  /// Copies host values (row-major) into a new tensor of `shape`.
  static Tensor from_data(std::span<const T> values, const Shape& shape) {
    PSALM_CHECK(static_cast<std::int64_t>(values.size()) == shape.numel(),
                "from_data: ", values.size(), " values do not fill shape ", shape, " (",
                shape.numel(), " elements)");
    Tensor out(shape);
    Memory<Dev>::copy_from_host(out.data_, values.data(), values.size() * sizeof(T));
    return out;
  }
  /// A contiguous tensor over memory psalm did not allocate (e.g. a memory-mapped file): no
  /// copy is made, and `owner` is kept alive for as long as any view of the tensor exists.
  /// requires: `data` points at shape.numel() elements on device Dev, aligned for T.
  static Tensor from_external(std::shared_ptr<void> owner, T* data, const Shape& shape) {
    PSALM_CHECK(data != nullptr || shape.numel() == 0, "from_external: null data for shape ",
                shape);
    PSALM_CHECK(reinterpret_cast<std::uintptr_t>(data) % alignof(T) == 0,
                "from_external: data is not aligned for its element type");
    Tensor out;
    out.storage_ = std::shared_ptr<T>(std::move(owner), data);
    out.shape_ = shape;
    out.strides_ = shape.contiguous_strides();
    out.data_ = data;
    out.defined_ = true;
    return out;
  }
  static Tensor from_data(std::initializer_list<T> values, const Shape& shape) {
    return from_data(std::span<const T>(values.begin(), values.size()), shape);
  }

  // ---- properties -----------------------------------------------------------------------------
  bool defined() const { return defined_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  std::int64_t numel() const { return shape_.numel(); }
  std::int64_t size(int axis) const { return shape_.size(axis); }
  const Dims& strides() const { return strides_; }
  std::int64_t stride(int axis) const { return strides_[shape_.normalize_axis(axis)]; }
  T* data() const { return data_; }
  static constexpr DType dtype() { return dtype_of<T>(); }
  /// True when the elements are laid out row-major with no gaps (extents of 1 ignored).
  bool is_contiguous() const {
    std::int64_t expected = 1;
    for (int i = rank() - 1; i >= 0; --i) {
      if (shape_[i] == 1) continue;
      if (strides_[i] != expected) return false;
      expected *= shape_[i];
    }
    return true;
  }
  /// Number of tensors sharing this storage (for tests and debugging).
  long use_count() const { return storage_.use_count(); }
  /// True when both tensors view the same storage.
  template <Scalar U>
  bool shares_storage_with(const Tensor<U, Dev>& other) const {
    return storage_ && storage_.get() == reinterpret_cast<const T*>(other.storage_ptr_());
  }

  // ---- views (no copies) ----------------------------------------------------------------------
  /// A view with a new shape; needs compatible strides (always true for contiguous tensors).
  /// One extent may be -1 and is inferred. Throws when a copy would be needed: use reshape().
  Tensor view(std::vector<std::int64_t> extents) const {
    const Shape target = infer_shape(std::move(extents));
    Dims new_strides;
    PSALM_CHECK(view_strides(target, new_strides), "view: cannot view shape ", shape_,
                " with strides ", dims_string(strides_), " as ", target,
                " without a copy; call reshape() or contiguous() first");
    return with_layout(target, new_strides, data_);
  }
  /// Like view(), but copies into a contiguous tensor when the strides do not allow a view.
  Tensor reshape(std::vector<std::int64_t> extents) const {
    const Shape target = infer_shape(std::move(extents));
    Dims new_strides;
    if (view_strides(target, new_strides)) return with_layout(target, new_strides, data_);
    return contiguous().view(std::vector<std::int64_t>(target.dims().v.begin(),
                                                       target.dims().v.begin() + target.rank()));
  }
  /// Reorders axes: result axis i is this tensor's axis order[i].
  Tensor permute(std::vector<int> order) const {
    PSALM_CHECK(static_cast<int>(order.size()) == rank(), "permute: ", order.size(),
                " axes given for a tensor of shape ", shape_);
    std::vector<bool> seen(rank(), false);
    std::vector<std::int64_t> extents(rank());
    Dims s;
    s.rank = rank();
    for (int i = 0; i < rank(); ++i) {
      const int a = shape_.normalize_axis(order[i]);
      PSALM_CHECK(!seen[a], "permute: axis ", order[i], " repeated for shape ", shape_);
      seen[a] = true;
      extents[i] = shape_[a];
      s[i] = strides_[a];
    }
    return with_layout(Shape(extents), s, data_);
  }
  Tensor transpose(int a, int b) const {
    std::vector<int> order(rank());
    std::iota(order.begin(), order.end(), 0);
    std::swap(order[shape_.normalize_axis(a)], order[shape_.normalize_axis(b)]);
    return permute(order);
  }
  /// Elements start, start+step, ... < stop along `axis` (negative start/stop count from the
  /// end and are clamped as in Python slicing); step > 0.
  Tensor slice(int axis, std::int64_t start, std::int64_t stop, std::int64_t step = 1) const {
    const int a = shape_.normalize_axis(axis);
    PSALM_CHECK(step > 0, "slice: step must be positive, got ", step);
    const std::int64_t n = shape_[a];
    auto clamp_index = [n](std::int64_t i) {
      if (i < 0) i += n;
      return std::clamp<std::int64_t>(i, 0, n);
    };
    start = clamp_index(start);
    stop = std::max(start, clamp_index(stop));
    std::vector<std::int64_t> extents = extents_vector();
    extents[a] = (stop - start + step - 1) / step;
    Dims s = strides_;
    s[a] = strides_[a] * step;
    return with_layout(Shape(extents), s, extents[a] ? data_ + start * strides_[a] : data_);
  }
  /// `length` elements from `start` along `axis`; throws when out of range.
  Tensor narrow(int axis, std::int64_t start, std::int64_t length) const {
    const int a = shape_.normalize_axis(axis);
    PSALM_CHECK(start >= 0 && length >= 0 && start + length <= shape_[a], "narrow: [", start, ", ",
                start + length, ") is out of range for axis ", axis, " of shape ", shape_);
    return slice(a, start, start + length);
  }
  /// Picks element `index` of `axis` and drops that axis.
  Tensor select(int axis, std::int64_t index) const {
    const int a = shape_.normalize_axis(axis);
    const std::int64_t n = shape_[a];
    PSALM_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for axis ",
                axis, " of shape ", shape_);
    if (index < 0) index += n;
    std::vector<std::int64_t> extents = extents_vector();
    extents.erase(extents.begin() + a);
    Dims s;
    s.rank = rank() - 1;
    for (int i = 0, j = 0; i < rank(); ++i)
      if (i != a) s[j++] = strides_[i];
    return with_layout(Shape(extents), s, data_ + index * strides_[a]);
  }
  /// Broadcasts to `target` (NumPy rules: new leading axes, extents of 1 repeated) with stride 0.
  Tensor expand(const Shape& target) const {
    PSALM_CHECK(target.rank() >= rank(), "expand: cannot expand shape ", shape_, " to ", target);
    Dims s;
    s.rank = target.rank();
    const int lead = target.rank() - rank();
    for (int i = 0; i < target.rank(); ++i) {
      if (i < lead) {
        s[i] = 0;
        continue;
      }
      const std::int64_t have = shape_[i - lead];
      PSALM_CHECK(have == target[i] || have == 1, "expand: cannot expand shape ", shape_, " to ",
                  target, " (axis ", i, ")");
      s[i] = have == target[i] ? strides_[i - lead] : 0;
    }
    return with_layout(target, s, data_);
  }
  /// Inserts an axis of extent 1 before position `axis` (axis may equal rank()).
  Tensor unsqueeze(int axis) const {
    if (axis < 0) axis += rank() + 1;
    PSALM_CHECK(axis >= 0 && axis <= rank(), "unsqueeze: axis out of range for shape ", shape_);
    std::vector<std::int64_t> extents = extents_vector();
    extents.insert(extents.begin() + axis, 1);
    Dims s;
    s.rank = rank() + 1;
    for (int i = 0, j = 0; i < s.rank; ++i)
      s[i] = i == axis ? (axis < rank() ? strides_[axis] * shape_[axis] : 1) : strides_[j++];
    return with_layout(Shape(extents), s, data_);
  }
  /// Removes `axis`, which must have extent 1.
  Tensor squeeze(int axis) const {
    const int a = shape_.normalize_axis(axis);
    PSALM_CHECK(shape_[a] == 1, "squeeze: axis ", axis, " of shape ", shape_, " is not 1");
    return select(a, 0);
  }

  // ---- copies ---------------------------------------------------------------------------------
  /// This tensor when already contiguous (sharing storage), else a contiguous copy.
  Tensor contiguous() const { return is_contiguous() ? *this : clone(); }
  /// A contiguous copy with its own storage.
  Tensor clone() const;
  /// A copy on device Dev2 (a plain clone when Dev2 == Dev). CPU <-> CUDA needs the CUDA backend.
  template <Device Dev2>
  Tensor<T, Dev2> to() const {
    if constexpr (std::is_same_v<Dev2, Dev>) {
      return clone();
    } else {
      const Tensor src = contiguous();
      Tensor<T, Dev2> out(shape_);
      const std::size_t bytes = static_cast<std::size_t>(numel()) * sizeof(T);
      if constexpr (std::is_same_v<Dev, cpu>)
        Memory<Dev2>::copy_from_host(out.data(), src.data_, bytes);
      else
        Memory<Dev>::copy_to_host(out.data(), src.data_, bytes);
      return out;
    }
  }
  /// The elements in row-major order, copied to the host.
  std::vector<T> to_vector() const {
    const Tensor src = contiguous();
    std::vector<T> out(static_cast<std::size_t>(numel()));
    Memory<Dev>::copy_to_host(out.data(), src.data_, out.size() * sizeof(T));
    return out;
  }
  /// One element by coordinates, read on the host (slow: for tests and debugging).
  T item(std::initializer_list<std::int64_t> coords = {}) const {
    PSALM_CHECK(static_cast<int>(coords.size()) == rank(), "item: ", coords.size(),
                " coordinates for shape ", shape_);
    std::int64_t off = 0;
    int i = 0;
    for (std::int64_t c : coords) {
      PSALM_CHECK(c >= 0 && c < shape_[i], "item: coordinate ", c, " out of range for axis ", i,
                  " of shape ", shape_);
      off += c * strides_[i++];
    }
    T out;
    Memory<Dev>::copy_to_host(&out, data_ + off, sizeof(T));
    return out;
  }

  /// Evaluates an expression (or copies a tensor) into this tensor's elements, in place,
  /// broadcasting the source to this shape. Writes through views into their base storage.
  template <class Source>
  Tensor& assign(const Source& source);
  /// Sets every element to `value`, in place.
  Tensor& fill(T value);

  // Internal: a view over this storage with another layout (used by views and backends).
  Tensor with_layout(const Shape& shape, const Dims& strides, T* data) const {
    Tensor out;
    out.storage_ = storage_;
    out.shape_ = shape;
    out.strides_ = strides;
    out.data_ = data;
    out.defined_ = defined_;
    return out;
  }
  const void* storage_ptr_() const { return storage_.get(); }

 private:
  std::vector<std::int64_t> extents_vector() const {
    return std::vector<std::int64_t>(shape_.dims().v.begin(), shape_.dims().v.begin() + rank());
  }
  static std::string dims_string(const Dims& d) {
    std::string s = "(";
    for (int i = 0; i < d.rank; ++i) s += (i ? ", " : "") + std::to_string(d[i]);
    return s + ")";
  }
  Shape infer_shape(std::vector<std::int64_t> extents) const {
    int infer = -1;
    std::int64_t known = 1;
    for (int i = 0; i < static_cast<int>(extents.size()); ++i) {
      if (extents[i] == -1) {
        PSALM_CHECK(infer < 0, "reshape: only one extent may be -1");
        infer = i;
      } else {
        PSALM_CHECK(extents[i] >= 0, "reshape: negative extent ", extents[i]);
        known = checked::mul(known, extents[i]);
      }
    }
    if (infer >= 0) {
      PSALM_CHECK(known > 0 && numel() % known == 0, "reshape: cannot infer -1 for ", numel(),
                  " elements of shape ", shape_);
      extents[infer] = numel() / known;
    }
    const Shape target{std::span<const std::int64_t>(extents)};
    PSALM_CHECK(target.numel() == numel(), "reshape: shape ", shape_, " (", numel(),
                " elements) cannot become ", target, " (", target.numel(), " elements)");
    return target;
  }
  // Strides for viewing this tensor as `target` without copying, when they exist (the
  // algorithm of torch's computeStride: match groups of old axes to groups of new axes).
  bool view_strides(const Shape& target, Dims& out) const {
    out.rank = target.rank();
    if (numel() == 0 || is_contiguous()) {
      out = target.contiguous_strides();
      return true;
    }
    int view_d = target.rank() - 1;
    std::int64_t chunk_base_stride = strides_[rank() - 1];
    std::int64_t tensor_numel = 1, view_numel = 1;
    for (int d = rank() - 1; d >= 0; --d) {
      tensor_numel *= shape_[d];
      if (d == 0 || (shape_[d - 1] != 1 && strides_[d - 1] != tensor_numel * chunk_base_stride)) {
        while (view_d >= 0 && (view_numel < tensor_numel || target[view_d] == 1)) {
          out[view_d] = view_numel * chunk_base_stride;
          view_numel *= target[view_d];
          --view_d;
        }
        if (view_numel != tensor_numel) return false;
        if (d > 0) {
          chunk_base_stride = strides_[d - 1];
          tensor_numel = 1;
          view_numel = 1;
        }
      }
    }
    return view_d == -1;
  }

  template <Scalar U, Device D>
  friend class Tensor;

  std::shared_ptr<T> storage_;
  Shape shape_;
  Dims strides_{};
  T* data_ = nullptr;
  bool defined_ = false;
};

}  // namespace psalm

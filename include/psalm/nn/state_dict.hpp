// psalm/nn/state_dict.hpp — moving weights in and out of modules by name: StateDict (named CPU
// tensors in insertion order, the in-memory form of a checkpoint), state_dict(module), strict
// load_state_dict from any weight source (a StateDict, an io::SafetensorsFile or an
// io::SafetensorsCheckpoint, sharded or not), and save_safetensors (atomic).
// Loading copies into the module's existing tensors, so Vars an optimizer already holds stay
// valid; a missing, unexpected or mis-shaped tensor is an error naming it (DESIGN.md "Weights
// and formats"), except recomputable buffers and names the caller declares dropped.
// Depends on: nn/module, io/safetensors, io/safetensors_writer. Test: tests/nn/test_module.cpp.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "psalm/io/safetensors.hpp"
#include "psalm/io/safetensors_writer.hpp"
#include "psalm/nn/module.hpp"

namespace psalm::nn {

/// Named CPU tensors in insertion order. It is itself a weight source (see WeightSource).
template <Real T = float>
class StateDict {
 public:
  /// Adds or replaces `name`.
  void insert(const std::string& name, Tensor<T> tensor) {
    PSALM_CHECK(tensor.defined(), "StateDict: tensor \"", name, "\" is undefined");
    auto [it, fresh] = index_.try_emplace(name, tensors_.size());
    if (fresh) {
      tensors_.emplace_back(name, std::move(tensor));
    } else {
      tensors_[it->second].second = std::move(tensor);
    }
  }
  bool contains(std::string_view name) const { return index_.contains(std::string(name)); }
  std::size_t size() const { return tensors_.size(); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& [n, t] : tensors_) out.push_back(n);
    return out;
  }
  const Tensor<T>& at(std::string_view name) const {
    auto it = index_.find(std::string(name));
    PSALM_CHECK(it != index_.end(), "StateDict: no tensor named \"", name, "\"");
    return tensors_[it->second].second;
  }
  std::vector<std::int64_t> shape(std::string_view name) const {
    const Tensor<T>& t = at(name);
    return {t.shape().dims().v.begin(), t.shape().dims().v.begin() + t.rank()};
  }
  /// The tensor converted to element type U (shared, not copied, when U == T).
  template <Scalar U>
  Tensor<U> load(std::string_view name) const {
    const Tensor<T>& t = at(name);
    if constexpr (std::same_as<U, T>) {
      return t;
    } else {
      const std::vector<T> values = t.to_vector();
      std::vector<U> converted(values.size());
      std::transform(values.begin(), values.end(), converted.begin(),
                     [](T v) { return convert<U>(v); });
      return Tensor<U>::from_data(converted, t.shape());
    }
  }
  auto begin() const { return tensors_.begin(); }
  auto end() const { return tensors_.end(); }

 private:
  std::vector<std::pair<std::string, Tensor<T>>> tensors_;
  std::map<std::string, std::size_t> index_;
};

/// Anything weights load from: a StateDict, io::SafetensorsFile, io::SafetensorsCheckpoint.
template <class S>
concept WeightSource = requires(const S& s, std::string_view name) {
  {s.names()};
  { s.contains(name) } -> std::convertible_to<bool>;
  {s.shape(name)};
  { s.template load<float>(name) } -> std::same_as<Tensor<float>>;
};

/// Every parameter and buffer of the module tree in visit order (a module's own entries in the
/// order its visit() lists them, children where it lists them: PyTorch's state_dict order),
/// with dotted names.
template <Real T, Device Dev>
void for_each_tensor(Module<T, Dev>& net,
                     const std::function<void(const std::string&, Tensor<T, Dev>&)>& f,
                     const std::string& prefix = {}) {
  struct Walker final : ModuleVisitor<T, Dev> {
    const std::function<void(const std::string&, Tensor<T, Dev>&)>* f;
    std::string prefix;
    void parameter(std::string_view name, Var<T, Dev>& p) override {
      if (p.defined()) (*f)(prefix + std::string(name), p.value());
    }
    void buffer(std::string_view name, Tensor<T, Dev>& b, BufferKind) override {
      if (b.defined()) (*f)(prefix + std::string(name), b);
    }
    void child(std::string_view name, Module<T, Dev>& m) override {
      for_each_tensor(m, *f, prefix + std::string(name) + ".");
    }
  } walker;
  walker.f = &f;
  walker.prefix = prefix;
  net.visit(walker);
}

/// The module's parameters and buffers, copied to the CPU, named `prefix + path`, in
/// PyTorch's state_dict order.
template <Real T, Device Dev>
StateDict<T> state_dict(Module<T, Dev>& net, const std::string& prefix = {}) {
  StateDict<T> out;
  for_each_tensor<T, Dev>(
      net,
      [&](const std::string& name, Tensor<T, Dev>& t) {
        out.insert(name, t.template to<cpu>().contiguous());
      },
      prefix);
  return out;
}

/// How load_state_dict maps and checks names.
struct LoadOptions {
  /// Prepended to every module path to find it in the source ("backbone.", "model.layers.").
  /// Only source names under the prefix count as expected or unexpected.
  std::string prefix{};
  /// Module paths (without prefix) that may be absent from the source; they keep their values.
  std::vector<std::string> allow_missing{};
  /// Source names (without prefix) that may be present and are not loaded, e.g. PSALM's
  /// dropped `lm_head.bias`. An entry ending in '.' covers every name that starts with it.
  std::vector<std::string> ignore{};
  /// false: missing and unexpected tensors are reported, not errors (shapes are still checked).
  bool strict = true;
};

/// What load_state_dict did.
struct LoadReport {
  std::vector<std::string> loaded, missing, unexpected, ignored;
};

namespace detail {

inline bool matches_any(const std::string& name, const std::vector<std::string>& patterns) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
    return name == p || (!p.empty() && p.back() == '.' && name.starts_with(p));
  });
}

template <class V>
std::string joined(const V& names, std::size_t limit = 8) {
  std::string out;
  std::size_t i = 0;
  for (const auto& n : names) {
    if (i == limit) {
      out += ", ... (" + std::to_string(names.size()) + " in all)";
      break;
    }
    out += (i++ ? ", " : "") + n;
  }
  return out;
}

}  // namespace detail

/// Loads the module's parameters and buffers from `source`, copying into the existing tensors
/// (converting dtype and moving to Dev). Errors name the tensor and the source.
template <Real T, Device Dev, WeightSource S>
LoadReport load_state_dict(Module<T, Dev>& net, const S& source, const LoadOptions& opt = {}) {
  LoadReport report;
  std::set<std::string> consumed;
  auto load_into = [&](const std::string& path, Tensor<T, Dev>& dst, bool may_be_absent) {
    const std::string key = opt.prefix + path;
    if (!source.contains(key)) {
      if (!may_be_absent && !detail::matches_any(path, opt.allow_missing))
        report.missing.push_back(key);
      return;
    }
    consumed.insert(key);
    const auto& shape = source.shape(key);
    const std::vector<std::int64_t> src_shape(shape.begin(), shape.end());
    const std::vector<std::int64_t> want(dst.shape().dims().v.begin(),
                                         dst.shape().dims().v.begin() + dst.rank());
    PSALM_CHECK(src_shape == want, "load_state_dict: tensor \"", key, "\" has shape ",
                Shape(std::span<const std::int64_t>(src_shape)),
                " in the checkpoint but the model expects ", dst.shape());
    const Tensor<T> loaded = source.template load<T>(key);  // (same shape), on the CPU
    if constexpr (std::same_as<Dev, cpu>) {
      dst.assign(loaded);
    } else {
      dst.assign(loaded.template to<Dev>());
    }
    report.loaded.push_back(key);
  };
  net.for_each_parameter(
      [&](const std::string& path, Var<T, Dev>& p) { load_into(path, p.value(), false); });
  net.for_each_buffer([&](const std::string& path, Tensor<T, Dev>& b, BufferKind kind) {
    load_into(path, b, kind == BufferKind::recomputable);
  });
  for (const std::string& name : source.names()) {
    if (!name.starts_with(opt.prefix) || consumed.contains(name)) continue;
    if (detail::matches_any(name.substr(opt.prefix.size()), opt.ignore)) {
      report.ignored.push_back(name);
    } else {
      report.unexpected.push_back(name);
    }
  }
  if (opt.strict) {
    PSALM_CHECK(report.missing.empty(), "load_state_dict: ", report.missing.size(),
                " tensor(s) missing from the checkpoint: ", detail::joined(report.missing));
    PSALM_CHECK(report.unexpected.empty(), "load_state_dict: ", report.unexpected.size(),
                " unexpected tensor(s) in the checkpoint (prefix \"", opt.prefix,
                "\"): ", detail::joined(report.unexpected));
  }
  return report;
}

/// Writes the module's parameters and buffers to one safetensors file, atomically.
template <Real T, Device Dev>
void save_safetensors(Module<T, Dev>& net, const std::filesystem::path& path,
                      const std::map<std::string, std::string>& metadata = {},
                      const std::string& prefix = {}) {
  io::SafetensorsWriter writer;
  for (const auto& [name, tensor] : state_dict(net, prefix)) writer.add(name, tensor);
  for (const auto& [k, v] : metadata) writer.set_metadata(k, v);
  writer.write(path);
}

}  // namespace psalm::nn

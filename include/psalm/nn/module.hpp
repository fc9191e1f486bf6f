// psalm/nn/module.hpp — Module<T, Dev>, the base of every layer and model, and the
// named-parameter registry. A module lists its own parameters, buffers and child modules in
// one function, `visit`, with the names its upstream `state_dict` uses; everything else
// (recursive names, train / eval, freezing, state dicts, strict loading) walks that list.
// Nothing stores pointers into modules, so modules move freely (e.g. into a std::vector).
// Depends on: autograd/var. Test: tests/nn/test_module.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "psalm/autograd/var.hpp"

namespace psalm::nn {

using autograd::Real;
using autograd::Var;

template <Real T, Device Dev = cpu>
class Module;

/// What a buffer (non-trained state saved with the weights) does on load.
enum class BufferKind {
  persistent,   ///< must be present in a checkpoint (BatchNorm running statistics)
  recomputable  ///< may be absent: the module computes it (Swin's relative_position_index)
};

/// Receives one module's entries from Module::visit. Names are local ("weight", "norm1");
/// the walkers below join them into dotted paths ("layers.0.blocks.1.norm1.weight").
template <Real T, Device Dev = cpu>
class ModuleVisitor {
 public:
  virtual ~ModuleVisitor() = default;
  /// A trainable parameter. An undefined Var (e.g. a bias turned off) is skipped.
  virtual void parameter(std::string_view name, Var<T, Dev>& p) = 0;
  /// A buffer: saved and loaded with the weights, never trained.
  virtual void buffer(std::string_view name, Tensor<T, Dev>& b,
                      BufferKind kind = BufferKind::persistent) = 0;
  /// A child module whose entries are named "<name>.<entry>".
  virtual void child(std::string_view name, Module<T, Dev>& m) = 0;

  /// Children kept in a sequence, named "<name>.0", "<name>.1", ... (torch.nn.ModuleList).
  template <class Seq>
  void children(std::string_view name, Seq& seq) {
    std::size_t i = 0;
    for (auto& m : seq) child(std::string(name) + "." + std::to_string(i++), m);
  }
};

/// Base of layers and models. Derived classes implement visit() and a forward of their own
/// signature; the base holds the train / eval flag.
template <Real T, Device Dev>
class Module {
 public:
  using value_type = T;
  using device_type = Dev;

  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;  // a copy would share parameters by surprise
  Module& operator=(const Module&) = delete;
  Module(Module&&) noexcept = default;
  Module& operator=(Module&&) noexcept = default;

  /// Lists this module's parameters, buffers and children, in upstream state_dict order.
  virtual void visit(ModuleVisitor<T, Dev>& v) = 0;

  /// Training mode (dropout, drop path, batch statistics) for this module and all children.
  void train(bool on = true) {
    for_each_module([on](Module& m) { m.training_ = on; });
  }
  void eval() { train(false); }
  bool is_training() const { return training_; }

  /// Every module of the tree, this one first (depth-first, in visit order).
  void for_each_module(const std::function<void(Module&)>& f) {
    f(*this);
    struct Walker final : ModuleVisitor<T, Dev> {
      const std::function<void(Module&)>* f;
      void parameter(std::string_view, Var<T, Dev>&) override {}
      void buffer(std::string_view, Tensor<T, Dev>&, BufferKind) override {}
      void child(std::string_view, Module& m) override { m.for_each_module(*f); }
    } walker;
    walker.f = &f;
    visit(walker);
  }

  /// Every parameter with its dotted name (prefix + path), defined ones only.
  void for_each_parameter(const std::function<void(const std::string&, Var<T, Dev>&)>& f,
                          const std::string& prefix = {}) {
    struct Walker final : ModuleVisitor<T, Dev> {
      const std::function<void(const std::string&, Var<T, Dev>&)>* f;
      std::string prefix;
      void parameter(std::string_view name, Var<T, Dev>& p) override {
        if (p.defined()) (*f)(prefix + std::string(name), p);
      }
      void buffer(std::string_view, Tensor<T, Dev>&, BufferKind) override {}
      void child(std::string_view name, Module& m) override {
        m.for_each_parameter(*f, prefix + std::string(name) + ".");
      }
    } walker;
    walker.f = &f;
    walker.prefix = prefix;
    visit(walker);
  }

  /// Every defined buffer with its dotted name and kind.
  void for_each_buffer(
      const std::function<void(const std::string&, Tensor<T, Dev>&, BufferKind)>& f,
      const std::string& prefix = {}) {
    struct Walker final : ModuleVisitor<T, Dev> {
      const std::function<void(const std::string&, Tensor<T, Dev>&, BufferKind)>* f;
      std::string prefix;
      void parameter(std::string_view, Var<T, Dev>&) override {}
      void buffer(std::string_view name, Tensor<T, Dev>& b, BufferKind kind) override {
        if (b.defined()) (*f)(prefix + std::string(name), b, kind);
      }
      void child(std::string_view name, Module& m) override {
        m.for_each_buffer(*f, prefix + std::string(name) + ".");
      }
    } walker;
    walker.f = &f;
    walker.prefix = prefix;
    visit(walker);
  }

  /// The parameters as (name, Var) pairs; the Vars share value and gradient with the module's.
  std::vector<std::pair<std::string, Var<T, Dev>>> named_parameters() {
    std::vector<std::pair<std::string, Var<T, Dev>>> out;
    for_each_parameter([&](const std::string& n, Var<T, Dev>& p) { out.emplace_back(n, p); });
    return out;
  }
  /// The parameters that currently require gradients (what an optimizer should update).
  std::vector<Var<T, Dev>> trainable_parameters() {
    std::vector<Var<T, Dev>> out;
    for_each_parameter([&](const std::string&, Var<T, Dev>& p) {
      if (p.requires_grad()) out.push_back(p);
    });
    return out;
  }
  /// Number of parameter elements.
  std::int64_t parameter_count() {
    std::int64_t n = 0;
    for_each_parameter([&](const std::string&, Var<T, Dev>& p) { n += p.numel(); });
    return n;
  }

  /// Freezes (false) or unfreezes (true) every parameter, keeping the values. Independent of
  /// train(): PSALM runs its frozen Swin in train mode, with drop path active.
  void set_requires_grad(bool on) {
    for_each_parameter([on](const std::string&, Var<T, Dev>& p) {
      if (p.requires_grad() != on) p = Var<T, Dev>(p.value(), on);
    });
  }
  /// Drops every parameter's gradient.
  void zero_grad() {
    for_each_parameter([](const std::string&, Var<T, Dev>& p) { p.zero_grad(); });
  }

 private:
  bool training_ = true;
};

}  // namespace psalm::nn

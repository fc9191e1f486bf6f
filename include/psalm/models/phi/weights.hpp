// psalm/models/phi/weights.hpp — Phi weights in both checkpoint layouts (PSALM_SPEC.md §7.2):
// split `self_attn.{q,k,v}_proj` (transformers >= 4.37, microsoft/phi-1_5) and fused
// `self_attn.query_key_value` (transformers 4.36, susnato/phi-1_5_dev, the released PSALM),
// whose rows are interleaved per head as [heads, 3, head_dim]: a weight-source view that loads
// either layout through nn::load_state_dict; layout conversion; vocabulary resize (§1.4).
// Depends on: nn/state_dict, models/phi/model. Test: tests/phi/test_weights.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "psalm/models/phi/model.hpp"
#include "psalm/nn/init.hpp"
#include "psalm/nn/state_dict.hpp"

namespace psalm::models::phi {

// Letters: H heads, Dh head size, D hidden = H * Dh.

inline constexpr std::string_view kFusedSuffix = "self_attn.query_key_value.";
inline constexpr const char* kSplitNames[3] = {"self_attn.q_proj.", "self_attn.k_proj.",
                                               "self_attn.v_proj."};

namespace detail {

/// "…self_attn.query_key_value.weight" -> ("…", "weight"); nullopt for other names.
inline std::optional<std::pair<std::string, std::string>> split_fused_name(std::string_view name) {
  const std::size_t at = name.find(kFusedSuffix);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view leaf = name.substr(at + kFusedSuffix.size());
  if (leaf != "weight" && leaf != "bias") return std::nullopt;
  return std::pair{std::string(name.substr(0, at)), std::string(leaf)};
}

/// "…self_attn.{q,k,v}_proj.weight" -> (part 0/1/2, "…", "weight"); nullopt otherwise.
struct SplitName {
  int part;
  std::string stem, leaf;
};
inline std::optional<SplitName> split_name(std::string_view name) {
  for (int p = 0; p < 3; ++p) {
    const std::size_t at = name.find(kSplitNames[p]);
    if (at == std::string_view::npos) continue;
    const std::string_view leaf = name.substr(at + std::string_view(kSplitNames[p]).size());
    if (leaf == "weight" || leaf == "bias")
      return SplitName{p, std::string(name.substr(0, at)), std::string(leaf)};
  }
  return std::nullopt;
}

}  // namespace detail

/// Part `part` (0 = q, 1 = k, 2 = v) of a fused weight (3D, D) or bias (3D):
/// W.view(H, 3, Dh, D)[:, part] -> (D, D); b.view(H, 3, Dh)[:, part] -> (D).
template <Scalar T>
Tensor<T> unfuse_qkv(const Tensor<T>& fused, std::int64_t heads, int part) {
  PSALM_CHECK((fused.rank() == 1 || fused.rank() == 2) && fused.size(0) % (3 * heads) == 0,
              "unfuse_qkv: fused query_key_value of shape ", fused.shape(),
              " is not (3 * heads * head_dim[, hidden]) for ", heads, " heads");
  const std::int64_t hd = fused.size(0) / (3 * heads);
  if (fused.rank() == 1)
    return fused.view({heads, 3, hd}).select(1, part).contiguous().view({heads * hd});  // (D)
  const std::int64_t in = fused.size(1);
  return fused.view({heads, 3, hd, in}).select(1, part).contiguous().view({heads * hd, in});
}

/// q, k, v weights (D, D) or biases (D) -> the fused [H, 3, Dh] layout (3D, D) or (3D).
template <Scalar T>
Tensor<T> fuse_qkv(const Tensor<T>& q, const Tensor<T>& k, const Tensor<T>& v, std::int64_t heads) {
  PSALM_CHECK(q.shape() == k.shape() && q.shape() == v.shape() && q.size(0) % heads == 0,
              "fuse_qkv: q, k, v must share a shape divisible by ", heads, " heads, got ",
              q.shape(), ", ", k.shape(), ", ", v.shape());
  const std::int64_t hd = q.size(0) / heads;
  std::vector<std::int64_t> part{heads, 1, hd}, whole{3 * heads * hd};
  if (q.rank() == 2) {
    part.push_back(q.size(1));
    whole.push_back(q.size(1));
  }
  std::vector<std::int64_t> fused_shape = part;
  fused_shape[1] = 3;
  Tensor<T> out{Shape{std::span<const std::int64_t>(fused_shape)}};  // (H, 3, Dh[, D])
  const Tensor<T>* parts[3] = {&q, &k, &v};
  for (int p = 0; p < 3; ++p) out.narrow(1, p, 1).assign(parts[p]->view(part));
  return out.view(whole);  // (3D[, D])
}

/// A weight source that shows a fused-layout source under split names: each
/// `…query_key_value.{weight,bias}` appears as `…{q,k,v}_proj.{weight,bias}`, sliced on load.
/// Everything else passes through, so a split-layout source reads the same through it, and
/// one call loads either layout strictly:
///
///   nn::load_state_dict(lm, FusedQkvAsSplit(source, config.num_attention_heads),
///                       {.prefix = "", .ignore = {"lm_head.bias"}});  // PSALM drops the bias
///
/// Lazy: nothing is copied until loaded. Holds a pointer: `source` must outlive it.
template <nn::WeightSource S>
class FusedQkvAsSplit {
 public:
  FusedQkvAsSplit(const S& source, std::int64_t heads) : source_(&source), heads_(heads) {
    for (const std::string& n : source.names()) {
      if (const auto f = detail::split_fused_name(n)) {
        for (const char* s : kSplitNames) names_.push_back(f->first + s + f->second);
      } else {
        names_.push_back(n);
      }
    }
  }
  std::vector<std::string> names() const { return names_; }
  bool contains(std::string_view name) const {
    if (const auto s = detail::split_name(name))
      return source_->contains(fused_of(*s)) || source_->contains(name);
    return source_->contains(name);
  }
  std::vector<std::int64_t> shape(std::string_view name) const {
    const auto s = detail::split_name(name);
    if (!s || !source_->contains(fused_of(*s))) {
      const auto& sh = source_->shape(name);
      return {sh.begin(), sh.end()};
    }
    const auto& sh = source_->shape(fused_of(*s));
    std::vector<std::int64_t> out(sh.begin(), sh.end());
    PSALM_CHECK(!out.empty() && out[0] % 3 == 0, "fused tensor \"", fused_of(*s), "\" of ",
                out.size(), "-d shape cannot hold q, k and v");
    out[0] /= 3;
    return out;
  }
  template <Scalar U>
  Tensor<U> load(std::string_view name) const {
    const auto s = detail::split_name(name);
    if (!s || !source_->contains(fused_of(*s))) return source_->template load<U>(name);
    return unfuse_qkv(source_->template load<U>(fused_of(*s)), heads_, s->part);
  }

 private:
  static std::string fused_of(const detail::SplitName& s) {
    return s.stem + std::string(kFusedSuffix) + s.leaf;
  }
  const S* source_;
  std::int64_t heads_;
  std::vector<std::string> names_;
};

/// Every q/k/v triple of `split` replaced by the fused `query_key_value` tensor (for writing a
/// checkpoint in the transformers 4.36 / PSALM layout); other tensors copied as they are.
template <Real T>
nn::StateDict<T> to_fused_layout(const nn::StateDict<T>& split, std::int64_t heads) {
  nn::StateDict<T> out;
  for (const auto& [name, t] : split) {
    const auto s = detail::split_name(name);
    if (!s) {
      out.insert(name, t);
    } else if (s->part == 0) {
      const std::string k = s->stem + kSplitNames[1] + s->leaf,
                        v = s->stem + kSplitNames[2] + s->leaf;
      out.insert(s->stem + std::string(kFusedSuffix) + s->leaf,
                 fuse_qkv(t, split.at(k), split.at(v), heads));
    }
  }
  return out;
}

/// The fused layout converted to split q/k/v tensors (copies).
template <Real T>
nn::StateDict<T> to_split_layout(const nn::StateDict<T>& fused, std::int64_t heads) {
  const FusedQkvAsSplit<nn::StateDict<T>> view(fused, heads);
  nn::StateDict<T> out;
  for (const std::string& n : view.names()) out.insert(n, view.template load<T>(n));
  return out;
}

/// True when `source` holds the fused query_key_value layout.
template <nn::WeightSource S>
bool has_fused_qkv(const S& source) {
  for (const std::string& n : source.names())
    if (detail::split_fused_name(n)) return true;
  return false;
}

/// How resize_token_embeddings initialises rows (PSALM_SPEC.md §1.4).
struct VocabResize {
  std::int64_t new_vocab = 0;
  /// Rows >= fresh_from are re-initialised (default -1: the old vocabulary size, i.e. only
  /// rows that did not exist). Rows below are kept.
  std::int64_t fresh_from = -1;
  /// Fresh rows set to the mean of the kept rows [0, fresh_from) (PSALM's "[PAD]").
  std::vector<std::int64_t> mean_rows{};
  /// Other fresh rows: Normal(0, std) from `seed`; fresh bias entries are 0.
  double std = 0.02;
  std::uint64_t seed = 0;

  /// PSALM: 51,200 -> 50,297 rows; [PAD] 50295 = mean of rows 0..50294, [SEG] 50296 ~ N(0, 0.02).
  static VocabResize psalm(std::uint64_t seed = 0) { return {50297, 50295, {50295}, 0.02, seed}; }
};

namespace detail {

template <Real T, Device Dev>
Tensor<T, Dev> resized_rows(const Tensor<T, Dev>& old, const VocabResize& r, std::int64_t keep,
                            nn::InitRng& rng, bool is_bias) {
  std::vector<std::int64_t> ext(old.shape().dims().v.begin(),
                                old.shape().dims().v.begin() + old.rank());
  ext[0] = r.new_vocab;
  const Shape shape{std::span<const std::int64_t>(ext)};
  Tensor<T> out = is_bias ? Tensor<T>::zeros(shape) : nn::init::normal<T>(shape, r.std, rng);
  const Tensor<T> host = old.template to<cpu>();
  if (keep > 0) out.narrow(0, 0, keep).assign(host.narrow(0, 0, keep));
  if (!r.mean_rows.empty() && !is_bias) {
    std::vector<std::int64_t> mean_ext = ext;
    mean_ext[0] = 1;
    Tensor<T> mean = Tensor<T>::zeros(Shape{std::span<const std::int64_t>(mean_ext)});  // (1, D)
    const std::vector<T> rows = host.narrow(0, 0, keep).contiguous().to_vector();
    const std::int64_t d = old.numel() / std::max<std::int64_t>(old.size(0), 1);
    std::vector<double> acc(static_cast<std::size_t>(d), 0.0);
    for (std::int64_t i = 0; i < keep; ++i)
      for (std::int64_t j = 0; j < d; ++j)
        acc[static_cast<std::size_t>(j)] += rows[static_cast<std::size_t>(i * d + j)];
    std::vector<T> m(acc.size());
    for (std::size_t j = 0; j < acc.size(); ++j) m[j] = static_cast<T>(acc[j] / keep);
    for (const std::int64_t row : r.mean_rows)
      out.narrow(0, row, 1).assign(Tensor<T>::from_data(m, mean.shape()));
  }
  return out.template to<Dev>();
}

}  // namespace detail

/// Resizes embed_tokens and lm_head to `r.new_vocab` rows (transformers'
/// resize_token_embeddings followed by PSALM's [PAD] initialisation); updates the config.
template <Real T, Device Dev>
void resize_token_embeddings(PhiForCausalLM<T, Dev>& lm, const VocabResize& r) {
  const std::int64_t old = lm.config().vocab_size;
  const std::int64_t fresh = r.fresh_from < 0 ? old : r.fresh_from;
  PSALM_CHECK(r.new_vocab > 0 && fresh <= r.new_vocab && fresh <= old && fresh > 0,
              "resize_token_embeddings: new_vocab ", r.new_vocab, " and fresh_from ", fresh,
              " must satisfy 0 < fresh_from <= min(old ", old, ", new_vocab)");
  for (const std::int64_t row : r.mean_rows)
    PSALM_CHECK(row >= fresh && row < r.new_vocab, "resize_token_embeddings: mean row ", row,
                " is not a fresh row in [", fresh, ", ", r.new_vocab, ")");
  nn::InitRng rng{r.seed};
  auto swap_in = [](Var<T, Dev>& p, Tensor<T, Dev> t) {
    p = Var<T, Dev>(std::move(t), p.requires_grad());
  };
  swap_in(lm.model.embed_tokens.weight,
          detail::resized_rows(lm.model.embed_tokens.weight.value(), r, fresh, rng, false));
  if (lm.lm_head.weight.defined())  // absent when the embeddings are tied
    swap_in(lm.lm_head.weight,
            detail::resized_rows(lm.lm_head.weight.value(), r, fresh, rng, false));
  if (lm.lm_head.bias.defined())
    swap_in(lm.lm_head.bias, detail::resized_rows(lm.lm_head.bias.value(), r, fresh, rng, true));
  lm.model.config().vocab_size = r.new_vocab;
}

}  // namespace psalm::models::phi

// Tests of psalm/psalm/chat.hpp through Segmenter::chat on a randomly initialised psalm_tiny:
// the reply with the chat prefix cache equals the reply that runs the whole prompt, also when
// sampling, and stays the same on a second question about the same encoded image; greedy
// tokens are the argmax of an uncached full forward (PsalmModel::language_logits, the training
// path) over the prompt and the tokens so far; a model rigged to say [SEG] returns one mask per
// [SEG] at the image's size, the second one equal to a one-pass computation of its context; bad
// questions and options are clear errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "psalm/psalm/segmenter.hpp"
#include "support/tiny_model.hpp"

using namespace psalm;
using Catch::Matchers::Contains;

namespace {

Segmenter& cached_segmenter() {
  static Segmenter s = Segmenter::load(testing::tiny_model_folder());
  return s;
}

Segmenter& uncached_segmenter() {
  static Segmenter s = Segmenter::load(testing::tiny_model_folder(), {.cache_prefix = false});
  return s;
}

void require_same_reply(const ChatReply& a, const ChatReply& b) {
  CHECK(a.tokens == b.tokens);
  CHECK(a.text == b.text);
  CHECK(a.stopped == b.stopped);
  REQUIRE(a.masks.size() == b.masks.size());
  for (std::size_t i = 0; i < a.masks.size(); ++i) {
    CHECK(a.masks[i].token == b.masks[i].token);
    CHECK(a.masks[i].query == b.masks[i].query);
    CHECK(a.masks[i].mask.to_vector() == b.masks[i].mask.to_vector());
  }
}

/// The reply's tokens (and its <|endoftext|> when it stopped) by full forwards: at each step
/// the prompt and the tokens so far, with the image, through language_logits; the argmax of
/// the last position's logits over the tokenizer's ids.
std::vector<std::int64_t> greedy_by_full_forwards(Segmenter& seg, const Tensor<std::uint8_t>& image,
                                                  const std::string& question, std::int64_t steps) {
  const autograd::NoGrad no_grad;
  SequenceLayout layout = seg.encoder().conversation_layout(question, "", true);
  const std::int64_t t = seg.config().image_size;
  PsalmBatch<float> batch;
  batch.pixels = seg.encoder().preprocess(image).pixels.view({1, 3, t, t});  // (1, 3, T, T)
  const std::int64_t v =
      std::min<std::int64_t>(seg.config().phi.vocab_size, seg.encoder().tokenizer().vocab_size());
  std::vector<std::int64_t> out;
  for (std::int64_t s = 0; s < steps; ++s) {
    batch.sequence = batch_sequences(std::span<const SequenceLayout>(&layout, 1));
    const Tensor<float> logits = seg.model().language_logits(batch).value();  // (1, L, V)
    const std::int64_t l = logits.size(1);
    const std::vector<float> last = logits.narrow(1, l - 1, 1).contiguous().to_vector();  // (V)
    const std::int64_t token = std::max_element(last.begin(), last.begin() + v) - last.begin();
    out.push_back(token);
    if (token == io::PsalmTokenIds::endoftext) break;
    layout.token_ids.push_back(token);
    layout.source.push_back(TokenSource::word);
    layout.source_index.push_back(-1);
    layout.class_index.push_back(0);
    layout.refer_mask.push_back(0);
    layout.labels.push_back(kIgnoreIndex);
  }
  return out;
}

}  // namespace

TEST_CASE("chat: the prefix cache gives the reply of the whole prompt, greedy and sampled",
          "[psalm][chat]") {
  const Tensor<std::uint8_t> image = testing::two_shape_scene(72, 96);
  Segmenter& cached = cached_segmenter();
  EncodedImage encoded = cached.encode(image);
  CHECK(encoded.chat_cached_positions() == 0);  // filled by the first chat only
  for (const ChatOptions& opt :
       {ChatOptions{.max_new_tokens = 6},
        ChatOptions{
            .max_new_tokens = 6, .temperature = 1.2, .top_k = 50, .top_p = 0.95, .seed = 4}}) {
    INFO("temperature " << opt.temperature);
    const ChatReply a = cached.chat(encoded, "What is left of the square?", opt);
    CHECK(encoded.chat_cached_positions() > 0);
    const ChatReply b = uncached_segmenter().chat(image, "What is left of the square?", opt);
    REQUIRE(a.tokens.size() + (a.stopped ? 1 : 0) == 6);
    require_same_reply(a, b);
    // Another question in between leaves the cached prefix as it was.
    (void)cached.chat(encoded, "How many shapes are there?", opt);
    require_same_reply(cached.chat(encoded, "What is left of the square?", opt), a);
    const std::vector<std::int32_t> ids(a.tokens.begin(), a.tokens.end());
    CHECK(a.text == detail::py_strip(cached.encoder().tokenizer().decode(ids)));
  }
  // A different seed samples a different reply (the draws are used).
  const ChatOptions s1{.max_new_tokens = 6, .temperature = 1.5, .seed = 1};
  ChatOptions s2 = s1;
  s2.seed = 2;
  CHECK(cached.chat(encoded, "Describe the image briefly.", s1).tokens !=
        cached.chat(encoded, "Describe the image briefly.", s2).tokens);
}

TEST_CASE("chat: greedy tokens are the argmax of full forwards over the prompt so far",
          "[psalm][chat]") {
  const Tensor<std::uint8_t> image = testing::two_shape_scene(64, 80, 5);
  Segmenter& seg = cached_segmenter();
  const std::string question = "What colour is the square?";
  const ChatReply reply = seg.chat(image, question, {.max_new_tokens = 5});
  std::vector<std::int64_t> got = reply.tokens;
  if (reply.stopped) got.push_back(io::PsalmTokenIds::endoftext);
  CHECK(got == greedy_by_full_forwards(seg, image, question, 5));
}

TEST_CASE("chat: a model that says [SEG] gets one mask per [SEG] at the image's size",
          "[psalm][chat]") {
  Segmenter seg = Segmenter::load(testing::seg_saying_model_folder());
  Segmenter plain = Segmenter::load(testing::seg_saying_model_folder(), {.cache_prefix = false});
  const PsalmConfig& config = seg.config();
  const std::int64_t seg_id = config.seg_token_id;
  const Tensor<std::uint8_t> image = testing::two_shape_scene(60, 90);
  const ChatReply reply = seg.chat(image, "Where is the disc?", {.max_new_tokens = 3});
  REQUIRE(reply.tokens == std::vector<std::int64_t>{seg_id, seg_id, seg_id});
  CHECK_FALSE(reply.stopped);
  CHECK(reply.text == "[SEG][SEG][SEG]");
  REQUIRE(reply.masks.size() == 3);
  for (std::size_t i = 0; i < reply.masks.size(); ++i) {
    const ChatMask& m = reply.masks[i];
    CHECK(m.token == static_cast<std::int64_t>(i));
    CHECK(m.mask.shape() == Shape{60, 90});
    CHECK(m.query >= 0);
    CHECK(m.query < config.num_mask_tokens);
    const std::vector<std::uint8_t> v = m.mask.to_vector();
    CHECK(std::all_of(v.begin(), v.end(), [](std::uint8_t x) { return x <= 1; }));
  }
  // Each [SEG] sees a longer context: the masks come from different hidden states.
  CHECK(reply.masks[0].score != reply.masks[1].score);
  require_same_reply(plain.chat(image, "Where is the disc?", {.max_new_tokens = 3}), reply);

  // The second mask by hand, in one pass without any cache reuse: prompt, [SEG], [SEG], then the
  // mask tokens. The first [SEG]'s mask tokens must not be in its context (the branch is
  // dropped after each mask).
  const autograd::NoGrad no_grad;
  SequenceLayout l = seg.encoder().conversation_layout("Where is the disc?", "", true);
  const std::int64_t q = config.num_mask_tokens, second = l.length() + 1;
  for (std::int64_t i = 0; i < 2 + q; ++i) {
    const bool word = i < 2;
    l.token_ids.push_back(word ? seg_id : 0);
    l.source.push_back(word ? TokenSource::word : TokenSource::mask_token);
    l.source_index.push_back(word ? -1 : i - 2);
    l.class_index.push_back(0);
    l.refer_mask.push_back(0);
    l.labels.push_back(kIgnoreIndex);
  }
  const std::int64_t t = config.image_size;
  const PreprocessedImage pre = seg.encoder().preprocess(image);
  const PsalmImageFeatures<float> features =
      seg.model().encode_images(pre.pixels.view({1, 3, t, t}));  // (1, 3, T, T)
  models::phi::PhiKvCache<float> cache(config.phi, 1, l.length());
  const Var<float> hidden = seg.model().language_hidden(
      features, batch_sequences(std::span<const SequenceLayout>(&l, 1)), cache);  // (1, L, D)
  const Var<float> seg_hidden(hidden.value().narrow(1, second, 1));               // (1, 1, D)
  const Var<float> mask_hidden(hidden.value().narrow(1, second + 1, q));          // (1, Q, D)
  const MaskPrediction want =
      task_inference(
          Task::referring,
          sample_outputs(seg.model().seg_token_prediction(features, seg_hidden, mask_hidden), 0),
          pre.geometry)
          .referring;
  CHECK(reply.masks[1].query == want.query);
  CHECK(reply.masks[1].score == Approx(want.score).epsilon(1e-5));
  CHECK(reply.masks[1].mask.to_vector() == want.mask.to_vector());
}

TEST_CASE("chat: bad questions and options are clear errors", "[psalm][chat]") {
  Segmenter& seg = cached_segmenter();
  const Tensor<std::uint8_t> image = testing::two_shape_scene(32, 32);
  EncodedImage encoded = seg.encode(image);
  CHECK_THROWS_WITH(seg.chat(encoded, ""), Contains("the question is empty"));
  CHECK_THROWS_WITH(seg.chat(encoded, " \n\t"), Contains("the question is empty"));
  CHECK_THROWS_WITH(seg.chat(encoded, "what is <image> here"), Contains("contains <image>"));
  CHECK_THROWS_WITH(seg.chat(encoded, "mask <seg>"), Contains("contains <seg>"));
  CHECK_THROWS_WITH(seg.chat(encoded, "hi", {.temperature = -1.0}), Contains("temperature"));
  CHECK_THROWS_WITH(seg.chat(encoded, "hi", {.temperature = 1.0, .top_p = 0.0}), Contains("top_p"));
  CHECK_THROWS_WITH(seg.chat(encoded, "hi", {.top_k = 3}), Contains("temperature > 0"));
  CHECK_THROWS_WITH(seg.chat(encoded, "hi", {.max_new_tokens = -2}), Contains("max_new_tokens"));
  std::string long_question;
  for (int i = 0; i < 2100; ++i) long_question += " word";
  CHECK_THROWS_WITH(seg.chat(encoded, long_question), Contains("too long"));
  // A refused request leaves the image usable.
  CHECK(seg.chat(encoded, "hi", {.max_new_tokens = 2}).tokens.size() <= 2);
  CHECK(seg.chat(encoded, "hi", {.max_new_tokens = 0}).tokens.empty());
}

// Phi end to end with the real GPT-2 / Phi-1.5 tokenizer (third_party/gpt2-bpe): PSALM's
// tokenizer ids ([SEG], whitespace runs) feed a small Phi whose vocabulary was resized from
// 51,200 to PSALM's 50,297 rows; greedy decoding continues the prompt and decodes to text.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "psalm/autograd.hpp"
#include "psalm/io/tokenizer.hpp"
#include "psalm/models/phi.hpp"

using namespace psalm;
namespace mp = psalm::models::phi;

TEST_CASE("phi + tokenizer: PSALM ids run through a resized Phi and greedy decoding", "[phi]") {
  const io::Tokenizer tok = io::Tokenizer::phi_1_5_psalm(PSALM_GPT2_DIR);
  const std::string text = "Please segment the dog.\t\t[SEG] It is  there";
  const std::vector<int32_t> ids32 = tok.encode(text);
  CHECK(std::find(ids32.begin(), ids32.end(), 50296) != ids32.end());  // [SEG]
  CHECK(std::find(ids32.begin(), ids32.end(), 50294) != ids32.end());  // "\t\t"
  CHECK(tok.decode(ids32) == text);

  mp::PhiConfig cfg = mp::PhiConfig::tiny();
  cfg.vocab_size = 51200;  // Phi-1.5's table
  nn::InitRng rng{8};
  mp::PhiForCausalLM<float> lm(cfg, rng);
  mp::resize_token_embeddings(lm, mp::VocabResize::psalm(3));
  REQUIRE(lm.config().vocab_size == tok.vocab_size());

  const std::vector<std::int64_t> ids(ids32.begin(), ids32.end());
  const auto len = static_cast<std::int64_t>(ids.size());
  const Tensor<std::int64_t> input = Tensor<std::int64_t>::from_data(ids, Shape{1, len});
  autograd::NoGrad no_grad;
  const Tensor<float> logits = lm.forward(input).logits.value();  // (1, L, 50297)
  REQUIRE(logits.shape() == Shape{1, len, 50297});
  const std::vector<float> last = logits.select(1, len - 1).contiguous().to_vector();
  const auto argmax = std::max_element(last.begin(), last.end()) - last.begin();

  const Tensor<std::int64_t> out = mp::generate(lm, input, {.max_new_tokens = 4});
  REQUIRE(out.shape() == Shape{1, len + 4});
  const std::vector<std::int64_t> all = out.to_vector();
  CHECK(std::equal(ids.begin(), ids.end(), all.begin()));
  CHECK(all[static_cast<std::size_t>(len)] == argmax);
  const std::vector<int32_t> new_ids(all.begin() + len, all.end());
  const std::string continuation = tok.decode(new_ids);
  CHECK(tok.decode(std::vector<int32_t>(all.begin(), all.end())) == text + continuation);
}

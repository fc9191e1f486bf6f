// Tests for psalm/psalm/{task,sequence,expand,sequence_batch}.hpp: the expansion of every prompt
// kind position by position against a transcription of llava_phi.py
// concat_image_seg_cls_embeds (tests/fixtures/psalm/prompts.json, written by
// tools/reference/psalm_prompt_fixtures.py: source, index, token, seg_query_mask, class and
// refer indices, region mask, labels), the shuffled-class bookkeeping against upstream's
// random_idx gather, the ref_token mode, right padding of mixed-length batches, errors, and
// agreement with the layouts of the model parity fixture (tests/fixtures/psalm/parity).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "psalm/psalm/expand.hpp"
#include "psalm/psalm/prompt.hpp"
#include "psalm/psalm/sequence.hpp"
#include "psalm/psalm/sequence_batch.hpp"
#include "psalm/psalm/task.hpp"
#include "schema_fixture.hpp"

using namespace psalm;
using psalm::testing::ids_of;
using psalm::testing::schema_case;
using psalm::testing::schema_fixture;
using psalm::testing::schema_tokenizer;

namespace {

ExpandOptions fixture_options() {
  const auto& fx = schema_fixture();
  ExpandOptions o;
  o.num_image_tokens = fx.at("num_image_tokens").get<std::int64_t>();
  o.num_mask_tokens = fx.at("num_mask_tokens").get<std::int64_t>();
  o.seg_token_id = fx.at("seg_token_id").get<std::int64_t>();
  o.vocab_size = fx.at("vocab_size").get<std::int64_t>();
  return o;
}

/// PromptIds of a fixture case, built from the fixture's own ids and token lists (the
/// tokenizer is test_prompt.cpp's concern): what upstream's dataset hands the model.
PromptIds prompt_ids_of_case(const nlohmann::json& c) {
  PromptIds p;
  p.ids = ids_of(c.at("ids"));
  const std::string kind = c.at("kind");
  if (kind == "class") {
    p.class_name_ids = c.at("class_name_ids").get<std::vector<std::vector<std::int64_t>>>();
    p.prompt_order = ids_of(c.at("prompt_order"));
  }
  if (kind == "referring") p.refer_ids = ids_of(c.at("refer_ids"));
  if (kind == "conversation") p.labels = ids_of(c.at("labels"));
  return p;
}

/// The layout must equal upstream's bookkeeping at every position.
void require_matches_upstream(const SequenceLayout& got, const nlohmann::json& c) {
  const auto& up = c.at("layout");
  const auto kind = up.at("kind").get<std::vector<std::string>>();
  const auto value = ids_of(up.at("value"));
  const auto seg_mask = ids_of(up.at("seg_query_mask"));
  const auto cls = ids_of(up.at("class_name_embedding_indices"));
  const auto region = ids_of(up.at("region_embedding_mask"));
  const auto refer = ids_of(up.at("refer_embedding_indices"));
  const auto labels = ids_of(up.at("labels"));
  const std::vector<std::int64_t> order =
      c.contains("prompt_order") ? ids_of(c.at("prompt_order")) : std::vector<std::int64_t>{};
  REQUIRE(got.length() == static_cast<std::int64_t>(kind.size()));
  for (std::size_t i = 0; i < kind.size(); ++i) {
    INFO("position " << i << ": upstream " << kind[i] << " " << value[i]);
    if (kind[i] == "word") {
      REQUIRE(got.source[i] == TokenSource::word);
      REQUIRE(got.token_ids[i] == value[i]);
      REQUIRE(got.source_index[i] == -1);
    } else {
      const TokenSource want = kind[i] == "image"  ? TokenSource::image
                               : kind[i] == "mask" ? TokenSource::mask_token
                                                   : TokenSource::region;
      REQUIRE(got.source[i] == want);
      REQUIRE(got.source_index[i] == value[i]);
      REQUIRE(got.token_ids[i] == 0);
    }
    REQUIRE((got.source[i] == TokenSource::mask_token) == (seg_mask[i] == 1));
    REQUIRE((got.source[i] == TokenSource::region) == (region[i] == 1));
    // upstream: 1-based prompt position of the <cls>; ours: 1 + canonical class.
    REQUIRE(got.class_index[i] ==
            (cls[i] == 0 ? 0 : 1 + order[static_cast<std::size_t>(cls[i] - 1)]));
    REQUIRE(got.refer_mask[i] == refer[i]);
    REQUIRE(got.labels[i] == labels[i]);
  }
}

}  // namespace

TEST_CASE("task: condition kinds, names and parsing", "[psalm][sequence]") {
  REQUIRE(condition_kind(Task::panoptic) == ConditionKind::classes);
  REQUIRE(condition_kind(Task::semantic) == ConditionKind::classes);
  REQUIRE(condition_kind(Task::gres) == ConditionKind::referring);
  REQUIRE(condition_kind(Task::interactive) == ConditionKind::regions);
  for (const Task t : kAllTasks) REQUIRE(parse_task(to_string(t)) == t);
  REQUIRE_THROWS_WITH(parse_task("panoptics"), Catch::Contains("unknown task"));
  REQUIRE(parse_condition_mode("mean") == ConditionMode::mean);
  REQUIRE(parse_condition_mode(to_string(ConditionMode::ref_token)) == ConditionMode::ref_token);
  REQUIRE_THROWS_AS(parse_condition_mode("last"), Error);
}

TEST_CASE("expand: every prompt kind matches concat_image_seg_cls_embeds position by position",
          "[psalm][sequence]") {
  const ExpandOptions options = fixture_options();
  int checked = 0;
  for (const auto& c : schema_fixture().at("cases")) {
    INFO("case " << c.at("name").get<std::string>());
    const PromptIds p = prompt_ids_of_case(c);
    const SequenceLayout l = expand_prompt(p, options);
    require_matches_upstream(l, c);
    const std::string kind = c.at("kind");
    REQUIRE(l.num_classes == static_cast<std::int64_t>(p.class_name_ids.size()));
    REQUIRE(l.num_regions == (kind == "interactive" ? c.at("num_regions").get<std::int64_t>() : 0));
    if (kind == "class") REQUIRE(l.prompt_order == p.prompt_order);
    ++checked;
  }
  REQUIRE(checked == 19);
}

TEST_CASE("expand: pooling by class_index gives canonical order (upstream's random_idx gather)",
          "[psalm][sequence]") {
  for (const char* name : {"panoptic_coco_shuffled", "open_vocab_shuffled"}) {
    INFO(name);
    const auto& c = schema_case(name);
    const SequenceLayout l = expand_prompt(prompt_ids_of_case(c), fixture_options());
    const auto permute = ids_of(c.at("permute_idx"));  // upstream gathers prompt slot permute[c]
    const auto cls = ids_of(c.at("layout").at("class_name_embedding_indices"));
    REQUIRE(permute.size() == static_cast<std::size_t>(l.num_classes));
    for (std::int64_t k = 0; k < l.num_classes; ++k) {
      for (std::size_t i = 0; i < cls.size(); ++i)
        REQUIRE((l.class_index[i] == k + 1) ==
                (cls[i] == permute[static_cast<std::size_t>(k)] + 1));
    }
    // Each span is the name tokens then [SEG]; the last canonical class is "background".
    std::vector<std::int64_t> span;
    for (std::size_t i = 0; i < cls.size(); ++i)
      if (l.class_index[i] == l.num_classes) span.push_back(l.token_ids[i]);
    const auto names = c.at("class_name_ids").get<std::vector<std::vector<std::int64_t>>>();
    std::vector<std::int64_t> background = names[static_cast<std::size_t>(permute.back())];
    background.push_back(50296);  // "background" tokens + [SEG]
    REQUIRE(span == background);
    REQUIRE(schema_tokenizer().decode(std::vector<std::int32_t>(span.begin(), span.end())) ==
            "background[SEG]");
  }
}

TEST_CASE("expand: ref_token mode ends the sentence with [REF] and pools only there",
          "[psalm][sequence]") {
  ExpandOptions ref = fixture_options();
  ref.condition_mode = ConditionMode::ref_token;
  ref.ref_token_id = 50297;
  ref.vocab_size = 50298;
  for (int i = 0; i < 5; ++i) {
    const auto& c = schema_case("referring_" + std::to_string(i));
    const PromptIds p = prompt_ids_of_case(c);
    const SequenceLayout mean = expand_prompt(p, fixture_options());
    const SequenceLayout tok = expand_prompt(p, ref);
    REQUIRE(tok.length() == mean.length());
    std::int64_t refer_positions = 0;
    for (std::int64_t k = 0; k < tok.length(); ++k) {
      const auto u = static_cast<std::size_t>(k);
      REQUIRE(tok.source[u] == mean.source[u]);
      if (mean.refer_mask[u] && (u + 1 == mean.refer_mask.size() || !mean.refer_mask[u + 1])) {
        REQUIRE(mean.token_ids[u] == 50296);  // the [SEG] closing the sentence ...
        REQUIRE(tok.token_ids[u] == 50297);   // ... is [REF] in ref_token mode
        REQUIRE(tok.refer_mask[u] == 1);
        ++refer_positions;
      } else {
        REQUIRE(tok.token_ids[u] == mean.token_ids[u]);
        REQUIRE(tok.refer_mask[u] == 0);
      }
    }
    REQUIRE(refer_positions == 1);
  }
  ExpandOptions missing = ref;
  missing.ref_token_id = -1;
  REQUIRE_THROWS_WITH(expand_prompt(prompt_ids_of_case(schema_case("referring_0")), missing),
                      Catch::Contains("ref_token_id"));
}

TEST_CASE("expand: end to end from text with the real tokenizer and the released sizes",
          "[psalm][sequence]") {
  const io::Tokenizer& tok = schema_tokenizer();
  const ExpandOptions opt = expand_options(16, 100, special_token_ids(tok));
  REQUIRE(opt.num_image_tokens == 256);
  const std::vector<std::string> coco =
      schema_case("panoptic_coco").at("class_names").get<std::vector<std::string>>();
  const PromptIds ids = tokenize_prompt(tok, class_prompt(coco));
  const SequenceLayout l = expand_prompt(ids, opt);
  REQUIRE(l.num_classes == 134);
  std::int64_t want = static_cast<std::int64_t>(ids.ids.size()) - 2 - 134 + 256 + 100;
  for (const auto& name : ids.class_name_ids) want += static_cast<std::int64_t>(name.size()) + 1;
  REQUIRE(l.length() == want);
  std::int64_t masks = 0, images = 0;
  for (const TokenSource s : l.source) {
    masks += s == TokenSource::mask_token ? 1 : 0;
    images += s == TokenSource::image ? 1 : 0;
  }
  REQUIRE(masks == 100);
  REQUIRE(images == 256);
  // spec §1.6 estimates 1.0-1.1 k positions; the exact count is 1157 (each ", " between two
  // <cls> is two tokens). The mask tokens come last, followed only by " " and <|endoftext|>.
  REQUIRE(l.length() == 1157);
  REQUIRE(l.source[static_cast<std::size_t>(l.length() - 3)] == TokenSource::mask_token);
  REQUIRE(l.token_ids.back() == io::PsalmTokenIds::endoftext);
}

TEST_CASE("expand: malformed prompts are clear errors", "[psalm][sequence]") {
  const ExpandOptions opt = fixture_options();
  const PromptIds good = prompt_ids_of_case(schema_case("panoptic_coco_shuffled"));
  PromptIds p = good;
  p.class_name_ids.pop_back();
  REQUIRE_THROWS_WITH(expand_prompt(p, opt), Catch::Contains("class names"));
  p = good;
  std::swap(p.prompt_order[0], p.prompt_order[1]);
  p.prompt_order[0] = p.prompt_order[1];
  REQUIRE_THROWS_WITH(expand_prompt(p, opt), Catch::Contains("permutation"));
  p = good;
  p.ids.push_back(kSegSentinel);
  REQUIRE_THROWS_WITH(expand_prompt(p, opt), Catch::Contains("<seg>"));
  p = good;
  p.ids.push_back(kImageSentinel);
  REQUIRE_THROWS_WITH(expand_prompt(p, opt), Catch::Contains("<image>"));
  p = good;
  p.ids.push_back(-7);
  REQUIRE_THROWS_WITH(expand_prompt(p, opt), Catch::Contains("unknown negative id -7"));
  p = good;
  p.ids.push_back(50297);  // beyond the vocabulary
  REQUIRE_THROWS_WITH(expand_prompt(p, opt), Catch::Contains("vocabulary"));
  p = good;
  p.class_name_ids[3].clear();
  REQUIRE_THROWS_WITH(expand_prompt(p, opt), Catch::Contains("no tokens"));
  p = good;
  p.labels.assign(3, 1);
  REQUIRE_THROWS_WITH(expand_prompt(p, opt), Catch::Contains("labels"));
  p = prompt_ids_of_case(schema_case("interactive_2"));
  p.refer_ids = {1, 2};
  REQUIRE_THROWS_WITH(expand_prompt(p, opt), Catch::Contains("<refer>"));
  p = prompt_ids_of_case(schema_case("referring_1"));
  p.ids.push_back(kReferSentinel);
  REQUIRE_THROWS_AS(expand_prompt(p, opt), Error);
  ExpandOptions zero = opt;
  zero.num_mask_tokens = 0;
  REQUIRE_THROWS_AS(expand_prompt(good, zero), Error);
  // A text-only conversation (no image, no mask tokens) is a valid prompt.
  PromptIds text;
  text.ids = {10, 11, 12};
  const SequenceLayout t = expand_prompt(text, opt);
  REQUIRE(t.length() == 3);
  REQUIRE(t.labels == std::vector<std::int64_t>(3, kIgnoreIndex));
}

TEST_CASE("batch_sequences: right padding of layouts of different lengths", "[psalm][sequence]") {
  const ExpandOptions opt = fixture_options();
  std::vector<SequenceLayout> layouts;
  for (const char* name : {"interactive_7", "interactive_1", "conversation_1", "referring_2"})
    layouts.push_back(expand_prompt(prompt_ids_of_case(schema_case(name)), opt));
  const SequenceBatch b = batch_sequences(layouts);
  std::int64_t longest = 0;
  for (const auto& l : layouts) longest = std::max(longest, l.length());
  REQUIRE(b.batch() == 4);
  REQUIRE(b.length() == longest);
  REQUIRE(b.num_regions == std::vector<std::int64_t>{7, 1, 0, 0});
  REQUIRE(b.num_classes == std::vector<std::int64_t>{0, 0, 0, 0});
  for (std::int64_t s = 0; s < 4; ++s) {
    const SequenceLayout& l = layouts[static_cast<std::size_t>(s)];
    for (std::int64_t i = 0; i < longest; ++i) {
      const bool real = i < l.length();
      const auto u = static_cast<std::size_t>(i);
      INFO("sample " << s << " position " << i);
      REQUIRE(b.attention_mask.item({s, i}) == (real ? 1 : 0));
      REQUIRE(b.source.item({s, i}) ==
              static_cast<std::uint8_t>(real ? l.source[u] : TokenSource::padding));
      REQUIRE(b.token_ids.item({s, i}) == (real ? l.token_ids[u] : 0));
      REQUIRE(b.source_index.item({s, i}) == (real ? l.source_index[u] : -1));
      REQUIRE(b.class_index.item({s, i}) == (real ? l.class_index[u] : 0));
      REQUIRE(b.refer_mask.item({s, i}) == (real ? l.refer_mask[u] : 0));
      REQUIRE(b.labels.item({s, i}) == (real ? l.labels[u] : kIgnoreIndex));
    }
  }
  REQUIRE_THROWS_AS(batch_sequences(std::vector<SequenceLayout>{}), Error);
  std::vector<SequenceLayout> broken{layouts[0]};
  broken[0].labels.pop_back();
  REQUIRE_THROWS_WITH(batch_sequences(broken), Catch::Contains("different lengths"));
  broken[0] = SequenceLayout{};
  REQUIRE_THROWS_WITH(batch_sequences(broken), Catch::Contains("empty"));
}

TEST_CASE("expand: agrees with the layouts of the PSALM parity fixture", "[psalm][sequence]") {
  // tests/fixtures/psalm/parity/cases.json (tools/reference/psalm_fixtures.py, its own
  // transcription of concat_image_seg_cls_embeds): tiny vocabulary, G = 2, Q = 8, [SEG] = 99.
  const auto all = testing::load_json("psalm/parity/cases.json");
  const auto config = testing::load_json("psalm/parity/config.json");
  ExpandOptions opt;
  opt.num_image_tokens = 2 * 2;
  opt.num_mask_tokens = config.at("num_mask_tokens").get<std::int64_t>();
  opt.seg_token_id = config.at("seg_token_id").get<std::int64_t>();
  int checked = 0;
  for (const auto& c : all.at("cases")) {
    std::vector<SequenceLayout> layouts;
    for (const auto& s : c.at("samples")) {
      INFO("case " << c.at("name").get<std::string>() << " sample " << layouts.size());
      const auto& pj = s.at("prompt");
      PromptIds p;
      p.ids = ids_of(pj.at("ids"));
      p.class_name_ids = pj.at("class_name_ids").get<std::vector<std::vector<std::int64_t>>>();
      p.refer_ids = ids_of(pj.at("refer_ids"));
      p.prompt_order = ids_of(pj.at("prompt_order"));
      p.labels = ids_of(pj.at("labels"));
      const SequenceLayout l = expand_prompt(p, opt);
      const auto& want = s.at("layout");
      REQUIRE(l.length() == s.at("expanded_length").get<std::int64_t>());
      REQUIRE(l.token_ids == ids_of(want.at("token_ids")));
      std::vector<std::int64_t> source;
      for (const TokenSource t : l.source) source.push_back(static_cast<std::int64_t>(t));
      REQUIRE(source == ids_of(want.at("source")));
      REQUIRE(l.source_index == ids_of(want.at("source_index")));
      REQUIRE(l.class_index == ids_of(want.at("class_index")));
      REQUIRE(std::vector<std::int64_t>(l.refer_mask.begin(), l.refer_mask.end()) ==
              ids_of(want.at("refer_mask")));
      REQUIRE(l.num_regions == s.at("num_regions").get<std::int64_t>());
      layouts.push_back(l);
      ++checked;
    }
    REQUIRE(batch_sequences(layouts).length() == c.at("padded_length").get<std::int64_t>());
  }
  REQUIRE(checked == 8);
}

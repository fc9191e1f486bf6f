// bench_tokenizer — encode throughput of psalm::io::Tokenizer (Phi-1.5 + PSALM preset) in MB/s,
// as a ratio to Hugging Face `tokenizers` (Rust, one thread) measured on the same corpus by
// tools/reference/tokenizer_bench.py. Also checks that both produced the very same ids.
//
//   tools/reference/.venv/bin/python tools/reference/tokenizer_bench.py
//       --corpus /tmp/psalm_tok_corpus.txt --out /tmp/psalm_tok_baseline.json
//   bench_tokenizer --baseline /tmp/psalm_tok_baseline.json [--gpt2 DIR] [--json]
//
// Without --baseline it encodes ~10 MB built from the fixture strings and prints MB/s only.
#include "psalm/io/tokenizer.hpp"

#include "bench_util.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

uint64_t fnv1a(const void* data, std::size_t n, uint64_t h = 0xCBF29CE484222325ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
  return h;
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw psalm::Error("bench_tokenizer: cannot open " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

std::vector<std::string_view> split_docs(std::string_view corpus) {
  std::vector<std::string_view> docs;
  std::size_t pos = 0;
  while (pos <= corpus.size()) {
    std::size_t end = corpus.find('\x1e', pos);
    if (end == std::string_view::npos) end = corpus.size();
    docs.push_back(corpus.substr(pos, end - pos));
    pos = end + 1;
  }
  return docs;
}

}  // namespace

int main(int argc, char** argv) {
  std::string baseline_path;
  // Repository paths from benchmarks/CMakeLists.txt (__FILE__ is relative under ccache).
  std::string gpt2 = PSALM_GPT2_DIR;
  std::string fixtures = PSALM_TEST_FIXTURES_DIR "/tokenizer/cases.json";
  bool as_json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--json") {
      as_json = true;
    } else if (a == "--baseline" && i + 1 < argc) {
      baseline_path = argv[++i];
    } else if (a == "--gpt2" && i + 1 < argc) {
      gpt2 = argv[++i];
    } else if (a == "--fixtures" && i + 1 < argc) {
      fixtures = argv[++i];
    } else {
      std::cerr << "usage: bench_tokenizer [--baseline FILE] [--gpt2 DIR] [--fixtures FILE] "
                   "[--json]\n";
      return 2;
    }
  }
  try {
    const psalm::io::Tokenizer tok = psalm::io::Tokenizer::phi_1_5_psalm(gpt2);
    nlohmann::json baseline;
    std::string corpus;
    if (!baseline_path.empty()) {
      baseline = nlohmann::json::parse(read_all(baseline_path));
      corpus = read_all(baseline["corpus_file"].get<std::string>());
      if (corpus.size() != baseline["corpus_bytes"].get<std::size_t>() ||
          hex64(fnv1a(corpus.data(), corpus.size())) != baseline["corpus_fnv1a"]) {
        std::cerr << "bench_tokenizer: corpus differs from the one the baseline measured\n";
        return 1;
      }
    } else {
      const auto j = nlohmann::json::parse(read_all(fixtures));
      std::string cycle;
      for (const auto& c : j["cases"]) cycle += c["text"].get<std::string>() + '\x1e';
      while (corpus.size() < 10'000'000) corpus += cycle;
      corpus.pop_back();
    }
    const auto docs = split_docs(corpus);
    const double mb = double(corpus.size()) / 1e6;

    std::vector<int32_t> ids;
    ids.reserve(corpus.size() / 3);
    std::vector<double> seconds;
    for (int pass = 0; pass < 4; ++pass) {
      // The tokenizer was just built: pass 0 runs with an empty word cache ("cold").
      ids.clear();
      const auto t0 = std::chrono::steady_clock::now();
      for (const auto doc : docs) tok.encode_into(doc, ids);
      seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    const double cold = mb / seconds[0];
    const double warm = mb / *std::min_element(seconds.begin() + 1, seconds.end());
    const std::string ids_hash = hex64(fnv1a(ids.data(), ids.size() * sizeof(int32_t)));

    nlohmann::json out = {{"corpus_bytes", corpus.size()}, {"documents", docs.size()},
                          {"tokens", ids.size()},          {"psalm_cold_mb_per_s", cold},
                          {"psalm_warm_mb_per_s", warm},   {"machine", psalm::bench::machine()}};
    bool same_ids = true;
    if (!baseline.is_null()) {
      same_ids = ids.size() == baseline["tokens"].get<std::size_t>() &&
                 ids_hash == baseline["ids_fnv1a"].get<std::string>();
      out["baseline"] = baseline["reference"];
      out["hf_cold_mb_per_s"] = baseline["cold_mb_per_s"];
      out["hf_warm_mb_per_s"] = baseline["warm_mb_per_s"];
      out["ratio_cold"] = cold / baseline["cold_mb_per_s"].get<double>();
      out["ratio_warm"] = warm / baseline["warm_mb_per_s"].get<double>();
      out["same_ids_as_baseline"] = same_ids;
    }
    if (as_json) {
      std::cout << out.dump() << "\n";
    } else {
      std::printf("%s", psalm::bench::machine_text().c_str());
      std::printf("tokenizer encode, %.2f MB, %zu documents, %zu tokens\n", mb, docs.size(),
                  ids.size());
      std::printf("%-42s %12s %12s\n", "", "cold MB/s", "warm MB/s");
      std::printf("%-42s %12.2f %12.2f\n", "psalm::io::Tokenizer", cold, warm);
      if (!baseline.is_null()) {
        std::printf("%-42s %12.2f %12.2f\n", baseline["reference"].get<std::string>().c_str(),
                    baseline["cold_mb_per_s"].get<double>(),
                    baseline["warm_mb_per_s"].get<double>());
        std::printf("%-42s %12.2f %12.2f\n", "ratio psalm / HF", out["ratio_cold"].get<double>(),
                    out["ratio_warm"].get<double>());
        std::printf("same ids as the baseline: %s\n", same_ids ? "yes" : "NO");
      }
    }
    return same_ids ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "bench_tokenizer: " << e.what() << "\n";
    return 1;
  }
}

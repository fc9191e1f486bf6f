// benchmarks/serve_load.cpp — `psalm serve` under load on loopback: a Server (psalm/serve/
// server.hpp) on a free 127.0.0.1 port and N client threads sending a fixed number of requests
// through cpp-httplib's client. Phase "first": each request uploads the image (decode + encode)
// and sends one prompt on it, timed together; phase "cached": each client uploads once, then
// sends prompts on its id. Prints requests/s, p50 / p99 / max latency, failed requests (any
// status but 200 / 201 or no answer) and the process's resident memory after each quarter of
// each phase (the cache is bounded, so it must level off). Bounded: --requests in all, one
// --timeout per request; nothing but 127.0.0.1 is contacted.
// Usage: bench_serve_load [--model DIR] [--image FILE] [--clients N] [--requests R]
//                         [--cache-mb M] [--prompt JSON] [--json]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "psalm/serve/server.hpp"

using namespace psalm;
using Clock = std::chrono::steady_clock;

namespace {

double rss_mib() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct PhaseResult {
  std::string name;
  std::vector<double> latencies_ms;
  std::int64_t failed = 0;
  double seconds = 0.0;
  std::vector<double> rss_mib;  // after each quarter

  double pct(double p) const {
    if (latencies_ms.empty()) return 0.0;
    std::vector<double> v = latencies_ms;
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  }
};

/// `requests` requests over `clients` threads; `one(client, i)` sends request i and returns
/// whether it succeeded.
template <class F>
PhaseResult run_phase(const std::string& name, int clients, int requests, F one) {
  PhaseResult r{name, {}, 0, 0.0, {}};
  std::mutex m;
  std::atomic<int> next{0}, done{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      for (int i = next++; i < requests; i = next++) {
        const auto t0 = Clock::now();
        const bool ok = one(c, i);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        const std::lock_guard g(m);
        r.latencies_ms.push_back(ms);
        if (!ok) ++r.failed;
        const int d = ++done;
        if (d % std::max(1, requests / 4) == 0 && r.rss_mib.size() < 4)
          r.rss_mib.push_back(rss_mib());
      }
    });
  for (auto& t : threads) t.join();
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model = bench::flag_value(argc, argv, "--model", PSALM_MODEL_DIR);
  const std::string image_path = bench::flag_value(argc, argv, "--image", PSALM_SCENE);
  const int clients = std::stoi(bench::flag_value(argc, argv, "--clients", "4"));
  const int requests = std::stoi(bench::flag_value(argc, argv, "--requests", "200"));
  const int cache_mb = std::stoi(bench::flag_value(argc, argv, "--cache-mb", "64"));
  const std::string prompt = bench::flag_value(
      argc, argv, "--prompt", R"({"task": "interactive", "regions": [{"point": [60, 70]}]})");
  const bool json_out = bench::has_flag(argc, argv, "--json");
  if (clients < 1 || clients > 256 || requests < 1 || requests > 100000) {
    std::fprintf(stderr, "--clients must be in [1, 256] and --requests in [1, 100000]\n");
    return 2;
  }
  const std::string image = read_all(image_path);

  Segmenter seg = Segmenter::load(model);
  serve::ServerOptions o;
  o.port = 0;
  o.max_queue = static_cast<std::size_t>(clients) + 1;  // every client admitted: none refused
  o.cache_bytes = std::int64_t{cache_mb} << 20;
  o.timeout_s = 120;
  serve::Server server(seg, o);
  const int port = server.bind();
  std::thread serving([&] { server.run(); });
  while (!server.running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double rss_start = rss_mib();

  auto client = [&] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(std::chrono::seconds(120));
    c.set_keep_alive(true);
    return c;
  };
  std::vector<httplib::Client> conns;
  for (int c = 0; c < clients; ++c) conns.push_back(client());
  auto upload = [&](httplib::Client& c, std::string* id) {
    const auto r = c.Post("/v1/images", image, "image/png");
    if (!r || r->status != 201) return false;
    *id = nlohmann::json::parse(r->body)["id"].get<std::string>();
    return true;
  };
  auto segment = [&](httplib::Client& c, const std::string& id) {
    const auto r = c.Post("/v1/images/" + id + "/segment", prompt, "application/json");
    return r && r->status == 200;
  };

  // Warm-up: one of each, not counted.
  std::string warm;
  if (!upload(conns[0], &warm) || !segment(conns[0], warm)) {
    std::fprintf(stderr, "warm-up request failed\n");
    server.stop();
    serving.join();
    return 1;
  }
  const PhaseResult first = run_phase("first", clients, requests, [&](int c, int) {
    std::string id;
    return upload(conns[static_cast<std::size_t>(c)], &id) &&
           segment(conns[static_cast<std::size_t>(c)], id);
  });
  std::vector<std::string> ids(static_cast<std::size_t>(clients));
  for (int c = 0; c < clients; ++c)
    upload(conns[static_cast<std::size_t>(c)], &ids[static_cast<std::size_t>(c)]);
  const PhaseResult cached = run_phase("cached", clients, requests, [&](int c, int) {
    return segment(conns[static_cast<std::size_t>(c)], ids[static_cast<std::size_t>(c)]);
  });
  const nlohmann::json health = server.health();
  server.stop();
  serving.join();

  nlohmann::json out = {{"machine", bench::machine()}, {"model", model},
                        {"image", image_path},         {"clients", clients},
                        {"requests", requests},        {"prompt", prompt},
                        {"rss_start_mib", rss_start},  {"cache", health["cache"]}};
  std::printf("%spsalm serve on loopback: %d clients, %d requests per phase\n",
              bench::machine_text().c_str(), clients, requests);
  std::printf("%-7s %9s %9s %9s %9s %7s  %s\n", "phase", "req/s", "p50 ms", "p99 ms", "max ms",
              "failed", "RSS MiB after each quarter");
  for (const PhaseResult* p : {&first, &cached}) {
    const double rps = static_cast<double>(p->latencies_ms.size()) / p->seconds;
    std::string rss;
    for (const double v : p->rss_mib) rss += std::to_string(static_cast<int>(v)) + " ";
    std::printf("%-7s %9.1f %9.1f %9.1f %9.1f %7lld  %s\n", p->name.c_str(), rps, p->pct(0.5),
                p->pct(0.99), p->pct(1.0), static_cast<long long>(p->failed), rss.c_str());
    out[p->name] = {{"requests_per_s", rps},  {"p50_ms", p->pct(0.5)},
                    {"p99_ms", p->pct(0.99)}, {"max_ms", p->pct(1.0)},
                    {"failed", p->failed},    {"rss_mib_by_quarter", p->rss_mib},
                    {"seconds", p->seconds}};
  }
  std::printf("cache at the end: %s\n", health["cache"].dump().c_str());
  if (json_out) std::printf("%s\n", out.dump(2).c_str());
  return first.failed + cached.failed == 0 ? 0 : 1;
}

// The page of `psalm serve` in a real browser: Debian's headless Chromium driven through
// chromium-driver (WebDriver over HTTP, spoken with cpp-httplib's client) loads the page from a
// Server on a free loopback port (the shipped psalm-tiny), uploads the shipped scene through the
// file input, types a sentence (Enter), then switches to interactive and clicks a point on the
// canvas. Each time the overlay must appear (pixels painted = the masks' areas, one list row
// per mask) and the masks, labels and scores the page received must equal what
// `psalm segment` writes for the same image and prompt (results.json, COCO RLE). With
// PSALM_SCREENSHOT=FILE.png set, the page is saved there (docs/images/serve.png). Exits 77
// (skipped) where chromium or chromedriver is absent.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "psalm/serve/server.hpp"
#include "support/cli_program.hpp"

extern char** environ;

using namespace psalm;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* kElement = "element-6066-11e4-a52e-4f735466cecf";

std::string find_program(const std::vector<std::string>& names) {
  for (const std::string& n : names)
    for (const char* dir : {"/usr/bin", "/usr/lib/chromium", "/usr/local/bin"})
      if (::access((std::string(dir) + "/" + n).c_str(), X_OK) == 0)
        return std::string(dir) + "/" + n;
  return "";
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::vector<std::uint8_t> base64_decode(const std::string& in) {
  std::vector<std::uint8_t> out;
  int bits = 0, value = 0;
  for (const char ch : in) {
    int d = -1;
    if (ch >= 'A' && ch <= 'Z') d = ch - 'A';
    if (ch >= 'a' && ch <= 'z') d = ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') d = ch - '0' + 52;
    if (ch == '+') d = 62;
    if (ch == '/') d = 63;
    if (d < 0) continue;
    value = (value << 6) | d;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((value >> bits) & 0xFF));
    }
  }
  return out;
}

/// chromedriver as a child process on a free port; killed on destruction.
struct Driver {
  pid_t pid = 0;
  int port = 0;
  explicit Driver(const std::string& program) {
    port = free_port();
    std::vector<std::string> args{program, "--port=" + std::to_string(port)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    REQUIRE(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    httplib::Client c("127.0.0.1", port);
    for (int i = 0; i < 200; ++i) {
      if (auto r = c.Get("/status"); r && r->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL("chromedriver did not answer on port " << port);
  }
  ~Driver() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

/// One WebDriver session.
struct Browser {
  httplib::Client c;
  std::string session;
  Browser(int driver_port, const std::string& chromium) : c("127.0.0.1", driver_port) {
    c.set_read_timeout(std::chrono::seconds(120));
    const json caps = {
        {"capabilities",
         {{"alwaysMatch",
           {{"browserName", "chrome"},
            {"goog:chromeOptions",
             {{"binary", chromium},
              {"args",
               {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1100,720", "--force-device-scale-factor=1"}}}}}}}}};
    session = call("POST", "/session", caps)["sessionId"];
  }
  ~Browser() {
    if (!session.empty()) c.Delete("/session/" + session);
  }
  json call(const std::string& method, const std::string& path, const json& body = json::object()) {
    httplib::Result r = method == "GET"      ? c.Get(path)
                        : method == "DELETE" ? c.Delete(path)
                                             : c.Post(path, body.dump(), "application/json");
    REQUIRE(r);
    INFO(method << " " << path << " -> " << r->status << " " << r->body.substr(0, 2000));
    REQUIRE(r->status == 200);
    return json::parse(r->body)["value"];
  }
  json s(const std::string& method, const std::string& path, const json& body = json::object()) {
    return call(method, "/session/" + session + path, body);
  }
  std::string element(const std::string& css) {
    return s("POST", "/element", {{"using", "css selector"}, {"value", css}})[kElement];
  }
  json script(const std::string& code) {
    return s("POST", "/execute/sync", {{"script", code}, {"args", json::array()}});
  }
  /// Polls `code` (a JS expression) until it is truthy; returns its value.
  json wait_for(const std::string& code, int seconds = 120) {
    for (int i = 0; i < seconds * 10; ++i) {
      const json v = script("return " + code + ";");
      if (!v.is_null() && v != false) return v;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const json status = script("return document.getElementById('status').textContent;");
    FAIL("timed out waiting for " << code << " (status: " << status.dump() << ")");
    return nullptr;
  }
};

/// The masks `psalm segment` writes for `args` on the scene (results.json, in order).
json segment_cli(const std::vector<std::string>& prompt) {
  static testing::TempDir dir("browser_cli");
  static int n = 0;
  const fs::path out = dir.path / ("out" + std::to_string(n++));
  std::vector<std::string> args{"segment",       PSALM_SCENE, "--model",
                                PSALM_MODEL_DIR, "--out",     out.string()};
  args.insert(args.end(), prompt.begin(), prompt.end());
  const testing::ProgramRun r = testing::psalm_program(args);
  INFO(r.all());
  REQUIRE(r.rc == 0);
  return json::parse(testing::slurp(out / "results.json"));
}

/// The page's masks equal psalm segment's, and the overlay shows them.
void check_answer(Browser& b, const json& answer, const json& cli) {
  const json& masks = answer["masks"];
  REQUIRE(masks.size() == cli.size());
  std::int64_t area = 0;
  for (std::size_t k = 0; k < masks.size(); ++k) {
    INFO("mask " << k);
    CHECK(masks[k]["segmentation"] == cli[k]["segmentation"]);
    CHECK(masks[k]["label"] == cli[k]["label"]);
    CHECK(masks[k]["category_id"] == cli[k]["category_id"]);
    CHECK(masks[k]["score"].get<double>() == Approx(cli[k]["score"].get<double>()).epsilon(1e-6));
    area += masks[k]["area"].get<std::int64_t>();
  }
  CHECK(b.script("return window.psalm.overlayPixels;").get<std::int64_t>() == area);
  CHECK(b.script("return document.querySelectorAll('#masks li').length;").get<std::size_t>() ==
        masks.size());
}

}  // namespace

TEST_CASE("serve browser: upload, type, click; the overlay shows psalm segment's masks",
          "[serve][browser]") {
  Segmenter seg = Segmenter::load(PSALM_MODEL_DIR);
  serve::ServerOptions o;
  o.port = 0;
  o.model_name = "psalm-tiny";
  serve::Server server(seg, o);
  const int port = server.bind();
  std::thread serving([&] { server.run(); });
  struct Stop {
    serve::Server& s;
    std::thread& t;
    ~Stop() {
      s.stop();
      t.join();
    }
  } stop{server, serving};

  Driver driver(find_program({"chromedriver"}));
  Browser b(driver.port, find_program({"chromium", "chromium-browser"}));
  b.s("POST", "/url", {{"url", "http://127.0.0.1:" + std::to_string(port) + "/"}});
  CHECK(b.s("GET", "/title") == "psalm serve");

  // Upload the shipped scene through the file input.
  const std::string file = b.element("#file");
  b.s("POST", "/element/" + file + "/value", {{"text", fs::absolute(PSALM_SCENE).string()}});
  b.wait_for("window.psalm.id && window.psalm.image");
  CHECK(b.script("return document.getElementById('canvas').width;") == 256);

  // A sentence, typed and sent with Enter.
  const std::string sentence = "the red square";
  const std::string text = b.element("#text");
  b.s("POST", "/element/" + text + "/value", {{"text", sentence + "\xee\x80\x87"}});  // U+E007
  const json referring = b.wait_for(
      "window.psalm.last && window.psalm.last.task === 'referring' "
      "&& window.psalm.last");
  check_answer(b, referring, segment_cli({"--text", sentence}));

  // Interactive: pick the task, click a point on the canvas (left of centre, above it).
  b.s("POST", "/element/" + b.element("#task option[value=interactive]") + "/click");
  const std::string canvas = b.element("#canvas");
  const json click = {
      {"actions",
       {{{"type", "pointer"},
         {"id", "mouse"},
         {"parameters", {{"pointerType", "mouse"}}},
         {"actions",
          {{{"type", "pointerMove"}, {"origin", {{kElement, canvas}}}, {"x", -60}, {"y", -30}},
           {{"type", "pointerDown"}, {"button", 0}},
           {{"type", "pointerUp"}, {"button", 0}}}}}}}};
  b.s("POST", "/actions", click);
  const json interactive = b.wait_for(
      "window.psalm.last && window.psalm.last.task === 'interactive' && window.psalm.last");
  const json point = b.script("return window.psalm.lastRequest.regions[0].point;");
  REQUIRE(point.size() == 2);
  const std::string xy =
      std::to_string(point[0].get<int>()) + "," + std::to_string(point[1].get<int>());
  INFO("clicked pixel " << xy);
  check_answer(b, interactive, segment_cli({"--point", xy}));

  // Toggling a mask off removes it from the overlay.
  if (!interactive["masks"].empty()) {
    b.s("POST", "/element/" + b.element("#masks li input.toggle") + "/click");
    CHECK(b.script("return window.psalm.overlayPixels;") == 0);
    b.s("POST", "/element/" + b.element("#masks li input.toggle") + "/click");
  }
  if (const char* shot = std::getenv("PSALM_SCREENSHOT")) {
    const std::vector<std::uint8_t> png = base64_decode(b.s("GET", "/screenshot"));
    std::ofstream(shot, std::ios::binary)
        .write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  }
}

int main(int argc, char** argv) {
  if (find_program({"chromium", "chromium-browser"}).empty() ||
      find_program({"chromedriver"}).empty()) {
    std::printf("chromium or chromedriver is not installed: skipped (exit 77)\n");
    return 77;
  }
  ::signal(SIGPIPE, SIG_IGN);
  return Catch::Session().run(argc, argv);
}

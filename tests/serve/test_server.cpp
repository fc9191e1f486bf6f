// Tests of psalm/serve/server.hpp over HTTP: a Server on a free loopback port (a randomly
// initialised psalm_tiny model folder) answered by cpp-httplib's client. Uploads (raw and
// multipart) give ids; answers equal psalm::Segmenter's own on the same image and prompt (as
// serve::segmentation_json writes them); every bad input (bad JSON, unknown fields and values,
// a visual prompt outside the image, an unknown id, an oversized body or image, a body that is
// no image, an unknown route, raw garbage on the socket) is a 4xx JSON error naming the field;
// a full queue and a too-long wait are 503; the server answers /v1/health after all of it.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "psalm/io/image.hpp"
#include "psalm/serve/server.hpp"
#include "support/tiny_model.hpp"

using namespace psalm;
using nlohmann::json;

namespace {

Segmenter& shared_segmenter() {
  static Segmenter s = Segmenter::load(testing::tiny_model_folder());
  return s;
}

/// A Server on a free loopback port, serving on its own thread while in scope.
struct RunningServer {
  serve::Server server;
  int port = 0;
  std::thread thread;
  explicit RunningServer(serve::ServerOptions o) : server(shared_segmenter(), with_free_port(o)) {
    port = server.bind();
    thread = std::thread([this] { server.run(); });
    for (int i = 0; i < 500 && !server.running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ~RunningServer() {
    server.stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(std::chrono::seconds(120));
    return c;
  }
  static serve::ServerOptions with_free_port(serve::ServerOptions o) {
    o.host = "127.0.0.1";
    o.port = 0;
    return o;
  }
};

std::string png_bytes(const Tensor<std::uint8_t>& image) {
  const std::vector<std::uint8_t> b = io::encode_png(image);
  return std::string(b.begin(), b.end());
}

json body_of(const httplib::Result& r) {
  REQUIRE(r);
  return json::parse(r->body);
}

/// The status and the "field" of an error answer.
std::pair<int, std::string> refusal(const httplib::Result& r) {
  REQUIRE(r);
  const json j = json::parse(r->body);
  INFO(r->body);
  CHECK(j.contains("error"));
  return {r->status, j.value("field", "")};
}

std::string upload(httplib::Client& c, const Tensor<std::uint8_t>& image) {
  const auto r = c.Post("/v1/images", png_bytes(image), "image/png");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 201);
  return json::parse(r->body)["id"].get<std::string>();
}

}  // namespace

TEST_CASE("serve server: upload, segment, answers equal the Segmenter's", "[serve][server]") {
  RunningServer s({});
  httplib::Client c = s.client();
  const Tensor<std::uint8_t> image = testing::two_shape_scene(48, 64);

  const json health = body_of(c.Get("/v1/health"));
  CHECK(health["status"] == "ok");
  CHECK(health["image_size"] == shared_segmenter().config().image_size);
  CHECK(health["queue"]["capacity"] == 8);
  const auto page = c.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body.find("<canvas id=\"canvas\"") != std::string::npos);

  const auto up = c.Post("/v1/images", png_bytes(image), "image/png");
  REQUIRE(up);
  REQUIRE(up->status == 201);
  const json uploaded = json::parse(up->body);
  CHECK(uploaded["width"] == 64);
  CHECK(uploaded["height"] == 48);
  CHECK(uploaded["bytes"].get<std::int64_t>() > 0);
  CHECK(uploaded["timings"]["encode_ms"].get<double>() > 0.0);
  const std::string id = uploaded["id"];
  CHECK(body_of(c.Get("/v1/health"))["cache"]["images"] == 1);

  // A multipart upload of the same image is another id.
  httplib::MultipartFormDataItems form = {{"image", png_bytes(image), "a.png", "image/png"}};
  const json multi = body_of(c.Post("/v1/images", form));
  CHECK(multi["id"] != id);
  CHECK(multi["width"] == 64);

  const std::vector<json> prompts = {
      {{"task", "referring"}, {"text", "the red square"}},
      {{"task", "gres"}, {"text", "all discs"}},
      {{"task", "panoptic"}, {"classes", {"square", "disc", "floor"}}, {"stuff", {"floor"}}},
      {{"task", "instance"}, {"classes", "square, disc"}},
      {{"task", "semantic"}, {"classes", {"square", "disc"}}},
      {{"task", "interactive"},
       {"regions",
        {{{"point", {40, 32}}},
         {{"box", {10, 10, 22, 24}}},
         {{"scribble", {{30, 30}, {44, 36}}}}}}},
  };
  for (const json& p : prompts) {
    INFO(p.dump());
    const auto r = c.Post("/v1/images/" + id + "/segment", p.dump(), "application/json");
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 200);
    const json got = json::parse(r->body);
    const SegmentPrompt prompt = serve::prompt_from_json(p, 48, 64);
    const Segmentation direct = shared_segmenter().segment(image, prompt);
    const json want = serve::segmentation_json(direct);
    CHECK(got["id"] == id);
    CHECK(got["task"] == want["task"]);
    CHECK(got["no_target"] == want["no_target"]);
    CHECK(got["masks"] == want["masks"]);
    CHECK(got["timings"]["segment_ms"].get<double>() > 0.0);
    CHECK(got["timings"]["total_ms"].get<double>() >= got["timings"]["segment_ms"].get<double>());
  }
}

TEST_CASE("serve server: bad input is a 4xx naming the field", "[serve][server]") {
  serve::ServerOptions o;
  o.max_upload_bytes = 40000;
  o.max_side = 200;
  o.max_pixels = 200 * 150;
  RunningServer s(o);
  httplib::Client c = s.client();
  const std::string id = upload(c, testing::two_shape_scene(48, 64));
  const std::string url = "/v1/images/" + id + "/segment";
  auto seg = [&](const std::string& body) { return c.Post(url, body, "application/json"); };

  CHECK(refusal(seg("{not json")) == std::pair<int, std::string>{400, "body"});
  CHECK(refusal(seg("")) == std::pair<int, std::string>{400, "body"});
  CHECK(refusal(seg("[1, 2]")) == std::pair<int, std::string>{400, "prompt"});
  CHECK(refusal(seg(R"({"text": "x"})")) == std::pair<int, std::string>{400, "task"});
  CHECK(refusal(seg(R"({"task": "detect", "text": "x"})")) ==
        std::pair<int, std::string>{400, "task"});
  CHECK(refusal(seg(R"({"task": "referring", "text": "x", "colour": 1})")) ==
        std::pair<int, std::string>{400, "colour"});
  CHECK(refusal(seg(R"({"task": "referring", "text": ""})")) ==
        std::pair<int, std::string>{400, "text"});
  CHECK(refusal(seg(R"({"task": "panoptic", "classes": 7})")) ==
        std::pair<int, std::string>{400, "classes"});
  CHECK(refusal(seg(R"({"task": "interactive", "regions": [{"point": [1, "y"]}]})")) ==
        std::pair<int, std::string>{400, "regions[0].point[1]"});
  // Outside the 64 x 48 image: Segmenter::example_of's check, reported on "regions".
  const auto outside = seg(R"({"task": "interactive", "regions": [{"point": [64, 10]}]})");
  CHECK(refusal(outside) == std::pair<int, std::string>{400, "regions"});
  CHECK_THAT(outside->body, Catch::Contains("outside the 64x48 image"));
  json many = {{"task", "interactive"}, {"regions", json::array()}};
  for (int i = 0; i < 33; ++i) many["regions"].push_back({{"point", {1, 1}}});
  CHECK(refusal(seg(many.dump())) == std::pair<int, std::string>{400, "regions"});

  CHECK(refusal(c.Post("/v1/images/0123/segment", R"({"task": "referring", "text": "x"})",
                       "application/json")) == std::pair<int, std::string>{404, "id"});
  CHECK(refusal(c.Get("/v1/nothing")).first == 404);
  CHECK(refusal(c.Post("/v1/images", "", "image/png")) ==
        std::pair<int, std::string>{400, "image"});
  CHECK(refusal(c.Post("/v1/images", "not an image at all", "image/png")) ==
        std::pair<int, std::string>{400, "image"});
  // A body past the bound: refused by the server's payload limit (413) with our JSON.
  CHECK(refusal(c.Post("/v1/images", std::string(200000, 'x'), "image/png")).first == 413);
  // curl --data's default type: cpp-httplib caps it at 8192 bytes; the answer says what to send.
  const auto form =
      c.Post("/v1/images", std::string(9000, 'x'), "application/x-www-form-urlencoded");
  CHECK(refusal(form) == std::pair<int, std::string>{413, "body"});
  CHECK_THAT(form->body, Catch::Contains("Content-Type: image/png"));
  // Dimensions past --max-side, read from the header before decoding.
  const auto wide =
      c.Post("/v1/images", png_bytes(Tensor<std::uint8_t>::zeros(Shape{8, 300, 3})), "image/png");
  CHECK(refusal(wide) == std::pair<int, std::string>{413, "image"});
  CHECK_THAT(wide->body, Catch::Contains("300x8"));
  httplib::MultipartFormDataItems wrong = {{"picture", "x", "a.png", "image/png"}};
  CHECK(refusal(c.Post("/v1/images", wrong)) == std::pair<int, std::string>{400, "image"});

  // Garbage on a raw socket is answered or dropped, never fatal.
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(s.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const std::string junk = "\x01\x02 GARBAGE / HTTP/9\r\nContent-Length: -5\r\n\r\n";
    CHECK(::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL) > 0);
    ::close(fd);
  }
  const json health = body_of(c.Get("/v1/health"));
  CHECK(health["status"] == "ok");
  CHECK(health["queue"]["admitted"] == 0);
}

TEST_CASE("serve server: a full queue and a long wait are 503", "[serve][server]") {
  // The model held (as by a long request): with room for one request the next is refused at
  // once; with room for two it waits for the timeout, then gives up.
  for (const std::size_t capacity : {1, 2}) {
    INFO("queue " << capacity);
    serve::ServerOptions o;
    o.max_queue = capacity;
    o.timeout_s = 0.2;
    RunningServer s(o);
    httplib::Client c = s.client();
    const std::string url =
        "/v1/images/" + upload(c, testing::two_shape_scene(48, 64)) + "/segment";
    const std::string prompt = R"({"task": "referring", "text": "x"})";
    std::promise<void> release, started;
    std::shared_future<void> gate = release.get_future().share();
    std::thread holder(
        [&] { s.server.work_queue().run([&] { started.set_value(), gate.wait(); }); });
    started.get_future().wait();
    const auto refused = c.Post(url, prompt, "application/json");
    CHECK(refusal(refused).first == 503);
    CHECK_THAT(refused->body, Catch::Contains(capacity == 1 ? "busy" : "timed out"));
    CHECK(refused->get_header_value("Retry-After") == "1");
    release.set_value();
    holder.join();
    CHECK(c.Post(url, prompt, "application/json")->status == 200);
  }
}

TEST_CASE("serve server: the cache drops the least recently used image", "[serve][server]") {
  const std::int64_t one = shared_segmenter().encode(testing::two_shape_scene(48, 64)).bytes();
  serve::ServerOptions o;
  o.cache_bytes = one * 2 + one / 2;  // room for two
  RunningServer s(o);
  httplib::Client c = s.client();
  const std::string a = upload(c, testing::two_shape_scene(48, 64));
  const std::string b = upload(c, testing::two_shape_scene(48, 64, 3));
  const std::string prompt = R"({"task": "referring", "text": "x"})";
  CHECK(c.Post("/v1/images/" + a + "/segment", prompt, "application/json")->status == 200);
  const std::string d = upload(c, testing::two_shape_scene(48, 64, 5));  // drops b
  CHECK(c.Post("/v1/images/" + b + "/segment", prompt, "application/json")->status == 404);
  CHECK(c.Post("/v1/images/" + a + "/segment", prompt, "application/json")->status == 200);
  CHECK(c.Post("/v1/images/" + d + "/segment", prompt, "application/json")->status == 200);
  const json health = body_of(c.Get("/v1/health"));
  CHECK(health["cache"]["images"] == 2);
  CHECK(health["cache"]["evictions"] == 1);
  CHECK(health["cache"]["bytes"].get<std::int64_t>() <= o.cache_bytes);
}

// psalm/serve/server.hpp — `psalm serve`'s HTTP server (cpp-httplib, Debian's
// libcpp-httplib-dev; link the psalm::serve target): the embedded page at /, and the JSON API
//   POST /v1/images                 an image (raw body or multipart field "image") -> its id;
//                                   encoded once, kept in a memory-bounded LRU cache
//   POST /v1/images/{id}/segment    a JSON prompt (psalm/serve/prompt.hpp) -> masks as COCO
//                                   RLE with labels, scores and timings (serve/response.hpp)
//   GET  /v1/health                 status, model, queue, cache and limits
// Everything is bounded (upload bytes, image side and pixels, prompt size, requests admitted,
// time waiting for the model, socket reads and writes) and every refusal is a JSON
// {"error": "...", "field": "..."} with a 4xx status (503 when the queue is full or the wait
// too long); nothing a client sends ends the process. See docs/serve.md.
// Host code. Depends on: serve/{prompt, response, image_cache, work_queue, page},
// psalm/segmenter.hpp, io/image.hpp, <httplib.h>. Test: tests/serve/test_server.cpp.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "psalm/core/error.hpp"
#include "psalm/io/image.hpp"
#include "psalm/psalm/segmenter.hpp"
#include "psalm/serve/image_cache.hpp"
#include "psalm/serve/page.hpp"
#include "psalm/serve/prompt.hpp"
#include "psalm/serve/response.hpp"
#include "psalm/serve/work_queue.hpp"

// After Eigen (through psalm/psalm/segmenter.hpp): cpp-httplib includes <resolv.h>, whose
// `#define _res (*__res_state())` breaks Eigen's product kernels (a parameter named _res).
#include <httplib.h>

namespace psalm::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";  ///< localhost only unless asked otherwise
  int port = 8080;                 ///< 0: any free port (Server::bind returns it)
  std::int64_t max_upload_bytes = std::int64_t{20} << 20;  ///< an image, or a prompt's JSON
  std::int64_t max_side = 4096;                            ///< image width and height
  std::int64_t max_pixels = std::int64_t{4096} * 4096;     ///< width * height
  std::int64_t cache_bytes = std::int64_t{1} << 30;        ///< encoded images kept
  std::size_t cache_images = 256;
  std::size_t max_queue = 8;  ///< requests admitted (running or waiting for the model)
  double timeout_s = 60.0;    ///< waiting for the model; socket reads and writes
  std::size_t threads = 0;    ///< connection threads; 0: max_queue + 8
  PromptLimits prompt{};
  std::string model_name;  ///< shown by /v1/health
};

namespace detail {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

inline void send_json(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(j.dump(), "application/json");
}

inline void send_error(httplib::Response& res, int status, const std::string& message,
                       const std::string& field = "") {
  nlohmann::json j{{"error", message}};
  if (!field.empty()) j["field"] = field;
  send_json(res, status, j);
}

}  // namespace detail

/// One encoded image in the cache (its size, for checking prompts without the model).
struct CachedImage {
  EncodedImage encoded;
  std::int64_t height = 0, width = 0;
};

class Server {
 public:
  Server(Segmenter& segmenter, ServerOptions options)
      : segmenter_(segmenter),
        options_(std::move(options)),
        cache_(options_.cache_bytes, options_.cache_images),
        queue_(options_.max_queue,
               std::chrono::milliseconds(static_cast<std::int64_t>(options_.timeout_s * 1000.0))) {
    PSALM_CHECK(options_.max_queue >= 1, "serve: the queue must admit at least one request");
    PSALM_CHECK(options_.timeout_s > 0.0, "serve: the timeout must be positive");
    const std::size_t threads = options_.threads != 0 ? options_.threads : options_.max_queue + 8;
    http_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    const auto timeout =
        std::chrono::milliseconds(static_cast<std::int64_t>(options_.timeout_s * 1000.0));
    http_.set_read_timeout(timeout);
    http_.set_write_timeout(timeout);
    http_.set_keep_alive_timeout(5);
    // The body is read whole before a handler sees it: bounded here (413), with room for a
    // multipart envelope around an image of max_upload_bytes.
    http_.set_payload_max_length(static_cast<std::size_t>(options_.max_upload_bytes) + 65536);
    routes();
  }

  /// Binds the listening socket; returns the port (the free one chosen for port 0).
  int bind() {
    if (options_.port == 0) {
      port_ = http_.bind_to_any_port(options_.host);
      PSALM_CHECK(port_ > 0, "serve: cannot bind to ", options_.host, " on any port");
    } else {
      PSALM_CHECK(http_.bind_to_port(options_.host, options_.port), "serve: cannot bind to ",
                  options_.host, ":", options_.port, " (in use, or not an address of this host)");
      port_ = options_.port;
    }
    return port_;
  }

  /// Serves until stop() (from another thread or a signal handler's thread).
  void run() { http_.listen_after_bind(); }
  void stop() { http_.stop(); }
  bool running() const { return http_.is_running(); }
  int port() const { return port_; }
  /// The queue all model work goes through (a test holds it to see the 503s).
  WorkQueue& work_queue() { return queue_; }

  /// The JSON of GET /v1/health.
  nlohmann::json health() const {
    const auto c = cache_.stats();
    return {{"status", "ok"},
            {"model", options_.model_name},
            {"image_size", segmenter_.config().image_size},
            {"queue", {{"admitted", queue_.admitted()}, {"capacity", queue_.capacity()}}},
            {"cache",
             {{"images", c.items},
              {"bytes", c.bytes},
              {"max_bytes", c.max_bytes},
              {"max_images", c.max_items},
              {"evictions", c.evictions}}},
            {"limits",
             {{"max_upload_bytes", options_.max_upload_bytes},
              {"max_side", options_.max_side},
              {"max_pixels", options_.max_pixels},
              {"max_text_bytes", options_.prompt.max_text_bytes},
              {"max_classes", options_.prompt.max_classes},
              {"max_regions", options_.prompt.max_regions},
              {"max_scribble_points", options_.prompt.max_points},
              {"timeout_s", options_.timeout_s}}}};
  }

 private:
  void routes() {
    http_.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(page_html(), "text/html; charset=utf-8");
    });
    http_.Get("/v1/health", [this](const httplib::Request&, httplib::Response& res) {
      detail::send_json(res, 200, health());
    });
    http_.Post("/v1/images",
               [this](const httplib::Request& req, httplib::Response& res) { upload(req, res); });
    http_.Post(R"(/v1/images/([^/]+)/segment)",
               [this](const httplib::Request& req, httplib::Response& res) {
                 segment(req, res, req.matches[1].str());
               });
    // Statuses without a body of ours (unknown route 404, 413 from the payload bound, 400 from
    // a malformed request line) get a JSON one.
    http_.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 413 &&
          req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0)
        // cpp-httplib caps form-urlencoded bodies at 8192 bytes (curl --data's default type).
        detail::send_error(res, 413,
                           "a form-urlencoded body is limited to 8192 bytes: send an image with "
                           "its own Content-Type (curl -H 'Content-Type: image/png' "
                           "--data-binary @FILE, or -F image=@FILE) and a prompt with "
                           "Content-Type: application/json",
                           "body");
      else if (res.status == 413)
        detail::send_error(res, 413,
                           "the request body is larger than the " +
                               std::to_string(options_.max_upload_bytes) +
                               " bytes allowed (psalm serve --max-upload-mb)",
                           "body");
      else if (res.status == 404)
        detail::send_error(
            res, 404,
            "no route " + req.method + " " + req.path + " (see GET /v1/health and docs/serve.md)");
      else
        detail::send_error(res, res.status, "bad request");
    });
    http_.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          try {
            std::rethrow_exception(ep);
          } catch (const std::bad_alloc&) {
            detail::send_error(res, 503, "out of memory for this request; try a smaller one");
          } catch (const std::exception& e) {
            detail::send_error(res, 500, std::string("internal error: ") + e.what());
          } catch (...) {
            detail::send_error(res, 500, "internal error");
          }
        });
  }

  /// 503 for a refused admission; false when the work ran.
  bool refused(const WorkQueue::Outcome& o, httplib::Response& res) const {
    if (o.status == WorkQueue::Status::ran) return false;
    res.set_header("Retry-After", "1");
    if (o.status == WorkQueue::Status::full)
      detail::send_error(res, 503,
                         "busy: " + std::to_string(queue_.capacity()) +
                             " requests are already queued (psalm serve --queue); retry later");
    else
      detail::send_error(res, 503,
                         "timed out after " + std::to_string(o.waited_ms / 1000.0) +
                             " s waiting for the model (psalm serve --timeout); retry later");
    return true;
  }

  void upload(const httplib::Request& req, httplib::Response& res) {
    const auto start = detail::Clock::now();
    const std::string* bytes = &req.body;
    std::string file;
    if (req.is_multipart_form_data()) {
      if (!req.has_file("image"))
        return detail::send_error(res, 400, "the multipart form has no field \"image\"", "image");
      file = req.get_file_value("image").content;
      bytes = &file;
    }
    if (bytes->empty())
      return detail::send_error(res, 400,
                                "no image: send PNG / JPEG / BMP / GIF bytes as the body "
                                "(or a multipart field \"image\")",
                                "image");
    if (static_cast<std::int64_t>(bytes->size()) > options_.max_upload_bytes)
      return detail::send_error(res, 413,
                                "the image is " + std::to_string(bytes->size()) +
                                    " bytes, more than the " +
                                    std::to_string(options_.max_upload_bytes) + " allowed",
                                "image");
    const auto data =
        std::span(reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size());
    io::ImageInfo info;
    try {
      info = io::probe_image(data, "image");
    } catch (const Error& e) {
      return detail::send_error(res, 400, e.what(), "image");
    }
    if (info.width > options_.max_side || info.height > options_.max_side ||
        info.width * info.height > options_.max_pixels)
      return detail::send_error(
          res, 413,
          "the image is " + std::to_string(info.width) + "x" + std::to_string(info.height) +
              "; at most " + std::to_string(options_.max_side) + " pixels a side and " +
              std::to_string(options_.max_pixels) + " pixels are allowed (psalm serve --max-side)",
          "image");
    Tensor<std::uint8_t> image;
    try {
      image = io::decode_image(data, {.channels = 3, .max_pixels = options_.max_pixels}, "image");
    } catch (const Error& e) {
      return detail::send_error(res, 400, e.what(), "image");
    }
    auto entry = std::make_shared<CachedImage>();
    entry->height = image.size(0);
    entry->width = image.size(1);
    Timings t;
    std::string error;
    const WorkQueue::Outcome o = queue_.run([&] {
      const auto t0 = detail::Clock::now();
      try {
        entry->encoded = segmenter_.encode(image);
      } catch (const Error& e) {
        error = e.what();
      }
      t.encode_ms = detail::ms_since(t0);
    });
    if (refused(o, res)) return;
    if (!error.empty()) return detail::send_error(res, 400, error, "image");
    const std::int64_t held = entry->encoded.bytes();
    if (held > options_.cache_bytes)
      return detail::send_error(
          res, 413,
          "the encoded image needs " + std::to_string(held) + " bytes, more than the cache's " +
              std::to_string(options_.cache_bytes) + " (psalm serve --cache-mb)",
          "image");
    const std::string id = cache_.insert(entry, held);
    t.queue_ms = o.waited_ms;
    t.total_ms = detail::ms_since(start);
    detail::send_json(res, 201,
                      {{"id", id},
                       {"width", entry->width},
                       {"height", entry->height},
                       {"bytes", held},
                       {"timings", timings_json(t)}});
  }

  void segment(const httplib::Request& req, httplib::Response& res, const std::string& id) {
    const auto start = detail::Clock::now();
    const std::shared_ptr<CachedImage> entry = cache_.find(id);
    if (!entry)
      return detail::send_error(res, 404,
                                "no image with id '" + id.substr(0, 64) +
                                    "' (unknown, or dropped from the cache: upload it again)",
                                "id");
    nlohmann::json body;
    try {
      body = nlohmann::json::parse(req.body);
    } catch (const nlohmann::json::exception& e) {
      return detail::send_error(res, 400, std::string("the body is not JSON: ") + e.what(), "body");
    }
    SegmentPrompt prompt;
    try {
      prompt = prompt_from_json(body, entry->height, entry->width, options_.prompt);
    } catch (const FieldError& e) {
      return detail::send_error(res, 400, e.what(), e.field());
    }
    Segmentation s;
    Timings t;
    std::string error;
    const WorkQueue::Outcome o = queue_.run([&] {
      const auto t0 = detail::Clock::now();
      try {
        s = segmenter_.segment(entry->encoded, prompt);
      } catch (const Error& e) {
        // Segmenter::example_of's checks (a visual prompt outside the image, or lost when
        // resized to the model's side), made here, one request at a time: the prompt masks it
        // rasterises are K x H x W bytes.
        error = e.what();
      }
      t.segment_ms = detail::ms_since(t0);
    });
    if (refused(o, res)) return;
    if (!error.empty()) return detail::send_error(res, 400, error, field_of(prompt));
    cache_.resize(id, entry->encoded.bytes());  // a long prompt may have grown its cache
    t.queue_ms = o.waited_ms;
    nlohmann::json j = segmentation_json(s, t);
    j["id"] = id;
    j["timings"]["total_ms"] = detail::ms_since(start);
    detail::send_json(res, 200, j);
  }

  static std::string field_of(const SegmentPrompt& p) {
    switch (condition_kind(p.task)) {
      case ConditionKind::classes:
        return "classes";
      case ConditionKind::referring:
        return "text";
      case ConditionKind::regions:
        return "regions";
    }
    return "prompt";
  }

  Segmenter& segmenter_;
  ServerOptions options_;
  LruCache<CachedImage> cache_;
  WorkQueue queue_;
  httplib::Server http_;
  int port_ = 0;
};

}  // namespace psalm::serve

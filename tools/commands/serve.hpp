// tools/commands/serve.hpp — `psalm serve`: the model loaded once behind an HTTP server on
// localhost (psalm/serve/server.hpp): a page to try prompts on your images and the JSON API it
// uses. This file only reads the options and starts the server; Ctrl-C (SIGINT) or SIGTERM
// stops it. See docs/serve.md.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "commands/common.hpp"
#include "commands/segment.hpp"
#include "psalm/serve/server.hpp"

namespace psalm::cli {

inline int run_serve(int argc, char** argv) {
  namespace fs = std::filesystem;
  namespace sd = segment_detail;
  cxxopts::Options options("psalm serve",
                           "Serve a PSALM model over HTTP: a page at http://HOST:PORT/ to segment "
                           "your images in the browser,\nand the JSON API it uses (POST "
                           "/v1/images, POST /v1/images/ID/segment, GET /v1/health;\n"
                           "docs/serve.md). Binds to localhost unless --host says otherwise.");
  // clang-format off
  options.add_options()
      ("model", "model folder (config.json + model.safetensors; default: the shipped psalm-tiny)", cxxopts::value<std::string>())
      ("gpt2", "folder with the GPT-2 BPE files (default: the model folder's, else the bundled ones)", cxxopts::value<std::string>())
      ("host", "address to listen on (0.0.0.0: every interface; anyone who reaches it can use the model)", cxxopts::value<std::string>()->default_value("127.0.0.1"))
      ("port", "port to listen on (0: any free port, printed)", cxxopts::value<int>()->default_value("8080"))
      ("max-upload-mb", "largest request body: an image or a prompt (MiB)", cxxopts::value<int>()->default_value("20"))
      ("max-side", "largest image width or height (pixels)", cxxopts::value<int>()->default_value("4096"))
      ("cache-mb", "memory for encoded images, least recently used dropped first (MiB)", cxxopts::value<int>()->default_value("1024"))
      ("queue", "requests admitted at once (running or waiting); more get 503", cxxopts::value<int>()->default_value("8"))
      ("timeout", "seconds a request may wait for the model (then 503), and for socket reads / writes", cxxopts::value<std::string>()->default_value("60"))
      ("max-regions", "visual prompts in one interactive prompt", cxxopts::value<int>()->default_value("32"))
      ("max-classes", "names in one class list", cxxopts::value<int>()->default_value("200"))
      ("no-prefix-cache", "run every prompt's whole sequence through the language model (slower)")
      ("dtype", segment_detail::kDtypeHelp, cxxopts::value<std::string>()->default_value("f32"));
  // clang-format on
  cxxopts::ParseResult args;
  if (parse_or_help(options, argc, argv, args)) return 0;
  serve::ServerOptions so;
  so.host = args["host"].as<std::string>();
  if (so.host.empty()) throw UsageError("--host is empty");
  so.port = in_range<int>(args, "port", 0, 65535);
  so.max_upload_bytes = std::int64_t{in_range<int>(args, "max-upload-mb", 1, 1024)} << 20;
  so.max_side = in_range<int>(args, "max-side", 16, 16384);
  so.max_pixels = so.max_side * so.max_side;
  so.cache_bytes = std::int64_t{in_range<int>(args, "cache-mb", 16, 1 << 20)} << 20;
  so.max_queue = static_cast<std::size_t>(in_range<int>(args, "queue", 1, 1024));
  so.timeout_s = real_in_range(args, "timeout", 0.1, 3600.0);
  so.prompt.max_regions = static_cast<std::size_t>(in_range<int>(args, "max-regions", 1, 1024));
  so.prompt.max_classes = static_cast<std::size_t>(in_range<int>(args, "max-classes", 1, 10000));

  const fs::path model_dir = sd::model_folder(args);
  const SegmenterOptions seg_options = sd::segmenter_options(args, model_dir);
  Segmenter seg = Segmenter::load(model_dir, seg_options);
  so.model_name = fs::absolute(model_dir).lexically_normal().string();

  // SIGINT / SIGTERM are taken by a thread that stops the server (not an async handler).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // inherited by the server's threads

  serve::Server server(seg, so);
  const int port = server.bind();
  const bool loopback = so.host == "127.0.0.1" || so.host == "localhost" || so.host == "::1";
  std::printf(
      "psalm serve: %s on http://%s:%d/ (model %s)\n", loopback ? "listening" : "LISTENING",
      so.host.find(':') != std::string::npos ? ("[" + so.host + "]").c_str() : so.host.c_str(),
      port, so.model_name.c_str());
  if (!loopback)
    std::printf(
        "psalm serve: --host %s is not loopback: anyone who can reach it can use the "
        "model\n",
        so.host.c_str());
  std::printf("psalm serve: Ctrl-C stops it\n");
  std::fflush(stdout);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    server.stop();
  });
  server.run();
  // run() returned without a signal (the socket failed): wake the waiter to let it end.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  std::printf("psalm serve: stopped\n");
  return 0;
}

}  // namespace psalm::cli

// Tests of psalm/serve/image_cache.hpp: the least recently used value goes first when the byte
// or count bound is passed, find() refreshes, resize() re-applies the bound, a value in use
// outlives its eviction, ids are distinct 32-hex-digit strings, and concurrent use keeps the
// totals consistent.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "psalm/serve/image_cache.hpp"

using psalm::serve::LruCache;

TEST_CASE("serve cache: least recently used goes first under the byte bound", "[serve][cache]") {
  LruCache<int> cache(100, 10);
  const std::string a = cache.insert(std::make_shared<int>(1), 40);
  const std::string b = cache.insert(std::make_shared<int>(2), 40);
  REQUIRE(cache.find(a) != nullptr);  // a is now more recent than b
  const std::string c = cache.insert(std::make_shared<int>(3), 40);
  CHECK(cache.find(b) == nullptr);
  REQUIRE(cache.find(a) != nullptr);
  CHECK(*cache.find(a) == 1);
  CHECK(*cache.find(c) == 3);
  CHECK(cache.stats().bytes == 80);
  CHECK(cache.stats().items == 2);
  CHECK(cache.stats().evictions == 1);
  // Growing c past the bound drops a (least recent), not c.
  cache.find(c);
  cache.resize(c, 70);
  CHECK(cache.find(a) == nullptr);
  CHECK(cache.find(c) != nullptr);
  CHECK(cache.stats().bytes == 70);
  CHECK(cache.erase(c));
  CHECK_FALSE(cache.erase(c));
  CHECK(cache.stats().bytes == 0);
  CHECK_THROWS_WITH(cache.insert(std::make_shared<int>(4), 101),
                    Catch::Contains("does not fit the cache's 100 bytes"));
}

TEST_CASE("serve cache: the count bound, ids, and values in use", "[serve][cache]") {
  LruCache<int> cache(1000, 2);
  const std::string a = cache.insert(std::make_shared<int>(1), 1);
  const std::shared_ptr<int> held = cache.find(a);
  cache.insert(std::make_shared<int>(2), 1);
  cache.insert(std::make_shared<int>(3), 1);
  CHECK(cache.find(a) == nullptr);
  CHECK(*held == 1);  // the request that holds it still has it
  CHECK(cache.stats().items == 2);
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    const std::string id = cache.insert(std::make_shared<int>(i), 1);
    CHECK(id.size() == 32);
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    ids.insert(id);
  }
  CHECK(ids.size() == 200);
}

TEST_CASE("serve cache: concurrent inserts and finds keep the totals", "[serve][cache]") {
  LruCache<int> cache(50, 1000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string id = cache.insert(std::make_shared<int>(i), 1 + (i + t) % 7);
        cache.find(id);
      }
    });
  for (auto& th : threads) th.join();
  const auto s = cache.stats();
  CHECK(s.bytes <= 50);
  CHECK(s.items + static_cast<std::size_t>(s.evictions) == 2000);
}

// tests/support/tutorial_check.cpp — the checker that keeps docs/tutorials/ honest: every code
// block of a page is either an excerpt of a program under examples/tutorials/ or a command the
// test suite runs (docs/tutorials/README.md, "How the pages are checked").
//  - ```cpp blocks follow a line `<!-- snippet: examples/tutorials/FILE.cpp#NAME -->` and must
//    equal the lines between `// [snippet:NAME]` and `// [/snippet:NAME]` of that file, with
//    their common indentation removed;
//  - ```sh blocks are the page's commands: with --run DIR they run in order, in one bash
//    (set -euo pipefail), in DIR, a fresh folder holding links to the repository's top-level
//    entries and `build` linking to the build folder; a page line `<!-- short: FROM => TO -->`
//    replaces FROM by TO in the commands first (each must match), so a run stays short;
//  - ```text blocks show output and are not checked; any other fence is an error.
// Depends on: the C++ standard library only (CI runs no Python).
// Usage: tutorial_check PAGE.md --root REPO [--run DIR --build BUILD_DIR]
// Test: tests/CMakeLists.txt runs it as tutorial_<page> for every docs/tutorials/NN_*.md and
// shows it failing on stale pages in tutorial_check_selftest
// (tests/support/tutorial_selftest.cmake).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

/// The lines strictly between `// [snippet:NAME]` and `// [/snippet:NAME]`, dedented.
std::vector<std::string> region(const fs::path& file, const std::string& name) {
  const auto lines = read_lines(file);
  std::vector<std::string> out;
  bool in = false, found = false, closed = false;
  for (const auto& line : lines) {
    const std::string t = trim(line);
    if (t == "// [snippet:" + name + "]") {
      if (found) throw std::runtime_error(file.string() + ": snippet " + name + " opens twice");
      in = found = true;
    } else if (t == "// [/snippet:" + name + "]") {
      in = false;
      closed = found;
    } else if (in) {
      out.push_back(line);
    }
  }
  if (!found || !closed)
    throw std::runtime_error(file.string() + " has no complete region // [snippet:" + name + "]");
  std::size_t indent = std::string::npos;
  for (const auto& l : out)
    if (!trim(l).empty()) indent = std::min(indent, l.find_first_not_of(' '));
  for (auto& l : out) l = trim(l).empty() ? "" : l.substr(indent == std::string::npos ? 0 : indent);
  return out;
}

struct Short {
  std::string from, to;
};

void replace_all(std::string& s, const std::string& from, const std::string& to, int& count) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
    ++count;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: tutorial_check PAGE.md --root REPO [--run DIR --build DIR]\n");
    return 2;
  }
  const fs::path page = argv[1];
  fs::path root, run_dir, build_dir;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--root")
      root = argv[i + 1];
    else if (flag == "--run")
      run_dir = argv[i + 1];
    else if (flag == "--build")
      build_dir = argv[i + 1];
    else {
      std::fprintf(stderr, "tutorial_check: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    const auto lines = read_lines(page);
    std::vector<std::string> problems;
    std::vector<Short> shorts;
    std::string script;
    int cpp_blocks = 0, sh_blocks = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const std::string where = page.filename().string() + ":" + std::to_string(i + 1);
      const std::string t = trim(lines[i]);
      if (t.rfind("<!-- short:", 0) == 0) {
        const auto arrow = t.find(" => "), end = t.rfind("-->");
        if (arrow == std::string::npos || end == std::string::npos || end < arrow) {
          problems.push_back(where + ": a short line reads <!-- short: FROM => TO -->");
          continue;
        }
        shorts.push_back(
            {trim(t.substr(11, arrow - 11)), trim(t.substr(arrow + 4, end - arrow - 4))});
        continue;
      }
      if (t.rfind("```", 0) != 0) continue;
      const std::string lang = t.substr(3);
      std::vector<std::string> body;
      std::size_t j = i + 1;
      for (; j < lines.size() && trim(lines[j]) != "```"; ++j) body.push_back(lines[j]);
      if (j == lines.size()) {
        problems.push_back(where + ": a ``` block that never closes");
        break;
      }
      if (lang == "cpp") {
        ++cpp_blocks;
        const std::string prev = i > 0 ? trim(lines[i - 1]) : "";
        const std::string tag = "<!-- snippet: ";
        const auto hash = prev.find('#');
        if (prev.rfind(tag, 0) != 0 || hash == std::string::npos ||
            prev.find(" -->") == std::string::npos) {
          problems.push_back(where + ": a cpp block without <!-- snippet: FILE#NAME --> above it");
        } else {
          const std::string file = prev.substr(tag.size(), hash - tag.size());
          const std::string name = prev.substr(hash + 1, prev.find(" -->") - hash - 1);
          try {
            const auto want = region(root / file, name);
            if (want != body) {
              std::size_t k = 0;
              while (k < want.size() && k < body.size() && want[k] == body[k]) ++k;
              problems.push_back(where + ": the block differs from " + file + "#" + name +
                                 " at its line " + std::to_string(k + 1) +
                                 ":\n    page:    " + (k < body.size() ? body[k] : "(block ends)") +
                                 "\n    program: " + (k < want.size() ? want[k] : "(region ends)"));
            }
          } catch (const std::exception& e) {
            problems.push_back(where + ": " + e.what());
          }
        }
      } else if (lang == "sh") {
        ++sh_blocks;
        script += "echo '+ [" + where + "]' >&2\n";
        for (const auto& l : body) script += l + "\n";
      } else if (lang != "text") {
        problems.push_back(where + ": a ```" + lang + " block (only cpp, sh and text are allowed)");
      }
      i = j;
    }
    for (const auto& s : shorts) {
      int count = 0;
      replace_all(script, s.from, s.to, count);
      if (count == 0)
        problems.push_back(page.filename().string() + ": the short line's '" + s.from +
                           "' is in no sh block");
    }
    if (!problems.empty()) {
      std::fprintf(stderr, "tutorial_check: %s is stale:\n", page.string().c_str());
      for (const auto& p : problems) std::fprintf(stderr, "  %s\n", p.c_str());
      return 1;
    }
    std::printf("tutorial_check: %s: %d cpp blocks match their programs, %d sh blocks\n",
                page.filename().string().c_str(), cpp_blocks, sh_blocks);
    if (run_dir.empty() || sh_blocks == 0) return 0;

    // A scratch copy of the repository's layout: links to its entries, `build` to the build.
    fs::remove_all(run_dir);
    fs::create_directories(run_dir);
    for (const auto& entry : fs::directory_iterator(root)) {
      const std::string name = entry.path().filename().string();
      if (name == "build" || name == ".git" || name == "runs") continue;
      fs::create_directory_symlink(fs::absolute(entry.path()), run_dir / name);
    }
    fs::create_directory_symlink(fs::absolute(build_dir), run_dir / "build");
    const fs::path script_path = run_dir / "commands.sh";
    std::ofstream(script_path) << "set -euo pipefail\n" << script;
    const std::string command = "cd '" + run_dir.string() + "' && PSALM_TUTORIAL_SHORT=1 bash '" +
                                script_path.string() + "'";
    std::fflush(stdout);
    const int rc = std::system(command.c_str());
    if (rc != 0) {
      std::fprintf(stderr, "tutorial_check: a command of %s failed (script: %s)\n",
                   page.string().c_str(), script_path.string().c_str());
      return 1;
    }
    std::printf("tutorial_check: %s: every command ran\n", page.filename().string().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tutorial_check: %s\n", e.what());
    return 2;
  }
  return 0;
}

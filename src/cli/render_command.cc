#include "src/cli/render_command.h"

#include <filesystem>
#include <fstream>

#include "src/cli/offline_context.h"

namespace kproxy::cli {
namespace {

// On stdout: each section's header line (when it has one), then its pieces.
class StdoutSink final : public modes::RenderSink {
 public:
  explicit StdoutSink(OutputSink out) : out_(std::move(out)) {}
  void section(std::string_view, std::string_view header) override {
    if (!header.empty()) out_(header);
  }
  void write(std::string_view piece) override { out_(piece); }

 private:
  OutputSink out_;
};

// --output-dir: one file per section; the first problem is kept.
class DirectorySink final : public modes::RenderSink {
 public:
  explicit DirectorySink(std::string dir) : dir_(std::move(dir)) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) problem_ = "--output-dir: cannot create " + dir_ + ": " + ec.message();
  }
  void section(std::string_view file_name, std::string_view) override {
    finish();
    if (!problem_.empty()) return;
    path_ = std::filesystem::path(dir_) / std::string(file_name);
    file_.open(path_, std::ios::binary | std::ios::trunc);
    if (!file_.is_open()) problem_ = "--output-dir: cannot write " + path_.string();
  }
  void write(std::string_view piece) override {
    if (file_.is_open()) file_.write(piece.data(), static_cast<std::streamsize>(piece.size()));
  }
  // "" or the first problem.
  std::string finish() {
    if (file_.is_open()) {
      file_.close();
      if (!file_ && problem_.empty()) problem_ = "--output-dir: cannot write " + path_.string();
    }
    file_.clear();
    return problem_;
  }

 private:
  std::string dir_;
  std::filesystem::path path_;
  std::ofstream file_;
  std::string problem_;
};

}  // namespace

int runRender(const RenderOptions& options, const OutputSink& out, std::string& err) {
  if (options.files.empty()) {
    err += "error: render: at least one -f FILE is required\n";
    return 2;
  }
  auto synced = runOfflineSyncs(options, /*for_trace=*/false, err);
  if (!synced) return 2;
  // What to print: the state after the last sync, or (--transaction) what that sync sends.
  auto print = [&](modes::RenderSink& sink) -> Status {
    if (options.transaction) return synced->proxier->renderTransaction(sink);
    synced->proxier->render(sink);
    return okStatus();
  };
  if (!options.output_dir.empty()) {
    DirectorySink files(options.output_dir);
    if (auto s = print(files); !s.ok()) {
      err += "error: " + s.error().message + "\n";
      return 2;
    }
    if (std::string problem = files.finish(); !problem.empty()) {
      err += "error: " + problem + "\n";
      return 1;
    }
    return 0;
  }
  if (options.transaction) {
    // Collected first: a mode without transactions prints nothing on stdout.
    std::string text;
    StdoutSink collect([&text](std::string_view piece) { text.append(piece); });
    if (auto s = print(collect); !s.ok()) {
      err += "error: " + s.error().message + "\n";
      return 2;
    }
    out(text);
    return 0;
  }
  StdoutSink stdout_sink(out);
  synced->proxier->render(stdout_sink);
  return 0;
}

}  // namespace kproxy::cli

#include "vm/guest.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "base/json.h"
#include "runner/environment.h"
#include "vm/channel.h"

namespace vigil::vm {
namespace {

class Writer {
 public:
  explicit Writer(int fd) : fd_(fd) {}
  bool Send(FrameType type, uint32_t id, std::string_view payload) {
    std::lock_guard<std::mutex> lock(mu_);
    return WriteAll(fd_, EncodeFrame(type, id, payload));
  }

 private:
  int fd_;
  std::mutex mu_;
};

class FrameSink : public sys::OutputSink {
 public:
  FrameSink(Writer* w, uint32_t id) : w_(w), id_(id) {}
  void OnOutput(std::string_view bytes) override {
    while (!bytes.empty()) {
      size_t n = std::min(bytes.size(), kMaxPayload);
      w_->Send(FrameType::kOutput, id_, bytes.substr(0, n));
      bytes.remove_prefix(n);
    }
  }

 private:
  Writer* w_;
  uint32_t id_;
};

}  // namespace

int RunGuest(const std::string& port, const std::string& tool_path) {
  int fd = open(port.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    fmt::print(stderr, "vigil guest: cannot open {}: {}\n", port, std::strerror(errno));
    return 2;
  }
  Writer writer(fd);
  // A test that eats the guest's memory must not have the OOM killer end
  // the guest (every running test would be "the kernel died"): the guest
  // is spared, its tests are not (OptionsFromJson: 0 again).
  if (int adj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC); adj >= 0) {
    (void)!write(adj, "-1000", 5);
    close(adj);
  }
  model::Environment env = runner::DetectHostEnvironment(tool_path);
  env.where = "vm";
  if (!writer.Send(FrameType::kHello, 0, DumpJson(EnvironmentToJson(env)))) {
    fmt::print(stderr, "vigil guest: cannot write to {}\n", port);
    return 2;
  }
  FrameReader reader;
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
  bool quit = false;
  char buf[65536];
  while (!quit) {
    struct pollfd p = {fd, POLLIN, 0};
    int pr = poll(&p, 1, 1000);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n == 0) {
      usleep(20000);  // the host is not connected (yet, or any more)
      continue;
    }
    if (n < 0) break;
    std::vector<Frame> frames;
    Status st = reader.Feed(std::string_view(buf, static_cast<size_t>(n)), &frames);
    if (!st.ok()) {
      fmt::print(stderr, "vigil guest: {}\n", st.message());
      break;
    }
    for (Frame& f : frames) {
      if (f.type == FrameType::kQuit) {
        quit = true;
        break;
      }
      if (f.type != FrameType::kRequest) continue;
      sys::ProcessOptions options;
      try {
        options = OptionsFromJson(nlohmann::json::parse(f.payload));
        options.oom_score_adj = 0;
      } catch (const std::exception& e) {
        sys::ProcessResult bad;
        bad.status = sys::WaitStatus::Exited(127);
        writer.Send(FrameType::kOutput, f.id, fmt::format("vigil guest: bad request: {}\n", e.what()));
        writer.Send(FrameType::kEnd, f.id, DumpJson(ResultToJson(bad)));
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        ++running;
      }
      uint32_t id = f.id;
      std::thread([&, options = std::move(options), id] {
        FrameSink sink(&writer, id);
        auto r = sys::RunProcess(options, &sink);
        sys::ProcessResult result;
        if (r.ok()) {
          result = std::move(*r);
        } else {
          result.status = sys::WaitStatus::Exited(127);
          sink.OnOutput(r.status().ToString() + "\n");
        }
        writer.Send(FrameType::kEnd, id, DumpJson(ResultToJson(result)));
        std::lock_guard<std::mutex> lock(mu);
        --running;
        cv.notify_all();
      }).detach();
    }
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return running == 0; });
  sync();
  return 0;
}

}  // namespace vigil::vm

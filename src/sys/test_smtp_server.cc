#include "sys/test_smtp_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

namespace vigil::sys {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHandler = R"PY(import os


class Raw:
    """Keeps each message's bytes and envelope; refuses "refuse*" recipients
    for good and greylists "grey*" ones (450 the first time, then taken)."""

    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.greylisted = set()

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(args[0])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refuse"):
            return "550 5.1.1 <%s>: no such mailbox here" % address
        if address.startswith("grey") and address not in self.greylisted:
            self.greylisted.add(address)
            return "450 4.2.0 <%s>: greylisted, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.directory, "%04d" % self.count)
        with open(base + ".env", "w") as f:
            f.write(envelope.mail_from + "\n")
            for r in envelope.rcpt_tos:
                f.write(r + "\n")
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 OK"


def serve_with_auth(port, directory, user, password):
    """The same handler behind a server offering AUTH for one user."""
    import threading
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticate(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and data.login == user.encode() and data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    controller = Controller(Raw(directory), hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    threading.Event().wait()
)PY";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

}  // namespace

int TestSmtpServer::FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

std::unique_ptr<TestSmtpServer> TestSmtpServer::Start(std::string* why_not, const std::string& auth_user,
                                                      const std::string& auth_password) {
  std::string python;
  for (const char* candidate : {"/usr/bin/python3", "python3"}) {
    std::string probe = std::string(candidate) + " -c 'import aiosmtpd' >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) {
      python = candidate;
      break;
    }
  }
  if (python.empty()) {
    *why_not = "python3 with aiosmtpd (python3-aiosmtpd) is not installed";
    return nullptr;
  }
  std::unique_ptr<TestSmtpServer> s(new TestSmtpServer());
  std::string tmpl = (fs::temp_directory_path() / "vigil-smtp-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    *why_not = "mkdtemp failed";
    return nullptr;
  }
  s->dir_ = tmpl;
  fs::create_directory(s->dir_ + "/box");
  std::ofstream(s->dir_ + "/vigil_test_smtp.py") << kHandler;
  s->port_ = FreePort();
  std::string listen = "127.0.0.1:" + std::to_string(s->port_);
  std::string box = s->dir_ + "/box";
  // Everything the child needs is made before fork(): it only execs.
  std::vector<std::string> env_strings = {"PYTHONPATH=" + s->dir_};
  for (char** e = environ; *e; ++e) {
    if (std::string_view(*e).starts_with("PYTHONPATH=")) continue;
    env_strings.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = {python, "-m", "aiosmtpd", "-n", "-l", listen, "-c", "vigil_test_smtp.Raw", box};
  if (!auth_user.empty()) {
    args = {python, "-c",
            "import sys, vigil_test_smtp as t; t.serve_with_auth(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4])",
            std::to_string(s->port_), box, auth_user, auth_password};
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    *why_not = "fork failed";
    return nullptr;
  }
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
      dup2(null, 1);
      dup2(null, 2);
    }
    execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  s->pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!Accepts(s->port_)) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      s->pid_ = -1;
      *why_not = "aiosmtpd exited at start";
      return nullptr;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      *why_not = "aiosmtpd did not listen within 10 s";
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return s;
}

TestSmtpServer::~TestSmtpServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::vector<TestSmtpServer::Received> TestSmtpServer::Messages() const {
  std::vector<fs::path> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ + "/box", ec)) {
    if (e.path().extension() == ".eml") names.push_back(e.path());
  }
  std::sort(names.begin(), names.end());
  std::vector<Received> out;
  for (const auto& p : names) {
    Received r;
    r.content = ReadFile(p);
    fs::path env = p;
    env.replace_extension(".env");
    std::istringstream lines(ReadFile(env));
    std::getline(lines, r.mail_from);
    for (std::string line; std::getline(lines, line);) r.rcpt_to.push_back(line);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace vigil::sys

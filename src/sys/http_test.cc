#include "sys/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace vigil::sys {
namespace {

// A server on 127.0.0.1 that answers each connection, one at a time, with
// `reply(request)` and closes it.
class OneShotServer {
 public:
  explicit OneShotServer(std::function<std::string(const std::string&)> reply, int connections = 1)
      : reply_(std::move(reply)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i) Serve();
    });
  }
  ~OneShotServer() {
    thread_.join();
    close(fd_);
  }
  std::string url(const std::string& path) const { return fmt::format("http://127.0.0.1:{}{}", port_, path); }
  std::string last_request() const { return last_request_; }

 private:
  void Serve() {
    int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    std::string request;
    char buf[4096];
    // Headers, then as much body as Content-Length says.
    while (true) {
      size_t end = request.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t cl = request.find("Content-Length: ");
        size_t want = cl == std::string::npos ? 0 : std::stoul(request.substr(cl + 16));
        if (request.size() >= end + 4 + want) break;
      }
      ssize_t n = read(c, buf, sizeof buf);
      if (n <= 0) break;
      request.append(buf, n);
    }
    last_request_ = request;
    std::string reply = reply_(request);
    for (size_t off = 0; off < reply.size();) {
      ssize_t n = send(c, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += n;
    }
    close(c);
  }

  std::function<std::string(const std::string&)> reply_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string last_request_;
};

std::string Reply(const std::string& status, const std::string& headers, const std::string& body) {
  return fmt::format("HTTP/1.1 {}\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n{}", status, headers,
                     body.size(), body);
}

HttpRequest Get(std::string url, int timeout_seconds = 60) {
  HttpRequest r;
  r.url = std::move(url);
  r.timeout_seconds = timeout_seconds;
  return r;
}

TEST(CurlTransport, ReturnsStatusLowercasedHeadersInOrderAndBody) {
  OneShotServer server([](const std::string&) {
    return Reply("200 OK", "Link: <http://x/?page=2>; rel=\"next\"\r\nX-Two: a\r\nX-Two: b\r\n",
                 std::string("body\0bytes\xff", 11));
  });
  auto http = NewCurlTransport();
  HttpRequest request;
  request.url = server.url("/api/1.2/events/?project=test");
  auto r = http->Perform(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, std::string("body\0bytes\xff", 11));
  EXPECT_EQ(r->Header("LINK"), "<http://x/?page=2>; rel=\"next\"");
  EXPECT_EQ(r->Header("x-two"), "a");
  EXPECT_EQ(r->Header("x-none"), "");
  ASSERT_GE(r->headers.size(), 3u);
  EXPECT_EQ(r->headers[0].first, "link");
  EXPECT_NE(server.last_request().find("GET /api/1.2/events/?project=test HTTP/1.1"), std::string::npos);
}

TEST(CurlTransport, SendsMethodHeadersAndBody) {
  OneShotServer server([](const std::string&) { return Reply("201 Created", "", "{}"); });
  auto http = NewCurlTransport();
  HttpRequest request;
  request.method = "POST";
  request.url = server.url("/c/");
  request.headers = {"Content-Type: application/json", "Authorization: Token s3cret"};
  request.body = R"({"state":"success"})";
  auto r = http->Perform(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 201);
  std::string seen = server.last_request();
  EXPECT_TRUE(seen.starts_with("POST /c/ HTTP/1.1\r\n")) << seen;
  EXPECT_NE(seen.find("Authorization: Token s3cret\r\n"), std::string::npos);
  EXPECT_TRUE(seen.ends_with("\r\n\r\n{\"state\":\"success\"}")) << seen;
}

TEST(CurlTransport, AnErrorStatusIsAResponse) {
  OneShotServer server([](const std::string&) { return Reply("503 Service Unavailable", "", "busy"); });
  auto r = NewCurlTransport()->Perform(Get(server.url("/")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "busy");
}

TEST(CurlTransport, BodyOverTheCapIsAnIOErrorNamingTheUrl) {
  OneShotServer server([](const std::string&) { return Reply("200 OK", "", std::string(5000, 'x')); });
  auto r = NewCurlTransport(1000)->Perform(Get(server.url("/big")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIOError);
  EXPECT_NE(r.status().message().find(server.url("/big")), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("over 1000 bytes"), std::string::npos) << r.status().message();
}

TEST(CurlTransport, ChunkedBodyOverTheCapIsAnIOError) {
  // No Content-Length: the cap holds while the body streams.
  OneShotServer server([](const std::string&) {
    std::string chunk(800, 'y');
    return fmt::format("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
                       chunk.size(), chunk, chunk.size(), chunk);
  });
  auto r = NewCurlTransport(1000)->Perform(Get(server.url("/chunked")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIOError);
  EXPECT_NE(r.status().message().find("over 1000 bytes"), std::string::npos) << r.status().message();
}

TEST(CurlTransport, RefusedConnectionIsAnIOErrorWithoutTheHeaders) {
  // A port just released: nothing listens there.
  int port;
  {
    OneShotServer server([](const std::string&) { return Reply("200 OK", "", ""); });
    port = std::stoi(server.url("").substr(17));
    (void)NewCurlTransport()->Perform(Get(server.url("/")));
  }
  HttpRequest request;
  request.url = fmt::format("http://127.0.0.1:{}/api/", port);
  request.headers = {"Authorization: Token s3cret"};
  auto r = NewCurlTransport()->Perform(request);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIOError);
  EXPECT_NE(r.status().message().find(request.url), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find("s3cret"), std::string::npos);
}

TEST(CurlTransport, TimeoutIsAnIOError) {
  OneShotServer server([](const std::string&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return Reply("200 OK", "", "late");
  });
  auto r = NewCurlTransport()->Perform(Get(server.url("/slow"), 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIOError);
  EXPECT_NE(r.status().message().find("/slow"), std::string::npos);
}

TEST(CurlTransport, RefusesOtherSchemesAndRedirectsToThem) {
  auto r = NewCurlTransport()->Perform(Get("file:///etc/passwd"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);

  OneShotServer server([](const std::string&) { return Reply("302 Found", "Location: file:///etc/passwd\r\n", ""); });
  auto redirected = NewCurlTransport()->Perform(Get(server.url("/r")));
  ASSERT_FALSE(redirected.ok());
  EXPECT_EQ(redirected.status().code(), Status::Code::kIOError);
}

TEST(CurlTransport, FollowsARedirectOfAGet) {
  int hits = 0;
  std::string target;
  OneShotServer server(
      [&](const std::string& request) {
        if (hits++ == 0) return Reply("301 Moved Permanently", "Location: " + target + "\r\nX-First: 1\r\n", "");
        EXPECT_TRUE(request.starts_with("GET /there/ HTTP/1.1")) << request;
        return Reply("200 OK", "X-Second: 2\r\n", "here");
      },
      2);
  target = server.url("/there/");
  auto r = NewCurlTransport()->Perform(Get(server.url("/there")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "here");
  EXPECT_EQ(r->Header("x-first"), "");  // the last response's headers only
  EXPECT_EQ(r->Header("x-second"), "2");
}

}  // namespace
}  // namespace vigil::sys

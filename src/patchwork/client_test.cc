#include "patchwork/client.h"

#include <deque>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace vigil::patchwork {
namespace {

using std::chrono::milliseconds;

constexpr const char* kBase = "http://pw.test:8000";
constexpr const char* kToken = "9b9e59bf2d24bf9db1f178ebd22f39b5291cc933";

// What Patchwork 3.1 served (pw-server, one series of three patches and a cover letter).
constexpr const char* kSeries1 = R"json({"id":1,"url":"http://127.0.0.1:8650/api/1.2/series/1/","web_url":"http://127.0.0.1:8650/project/test/list/?series=1","project":{"id":1,"url":"http://127.0.0.1:8650/api/1.2/projects/1/","name":"Test","link_name":"test","list_id":"test.example.org","list_email":"test@example.org","web_url":"","scm_url":"","webscm_url":"","list_archive_url":"","list_archive_url_format":"","commit_url_format":""},"name":"a: three changes","date":"2026-12-05T02:20:49","submitter":{"id":1,"url":"http://127.0.0.1:8650/api/1.2/people/1/","name":"Ann Dev","email":"ann@example.org"},"version":1,"total":3,"received_total":3,"received_all":true,"mbox":"http://127.0.0.1:8650/series/1/mbox/","cover_letter":{"id":1,"url":"http://127.0.0.1:8650/api/1.2/covers/1/","web_url":"http://127.0.0.1:8650/project/test/cover/cover.1796437249.git.ann@example.org/","msgid":"<cover.1796437249.git.ann@example.org>","list_archive_url":null,"date":"2026-12-05T02:20:49","name":"[0/3] a: three changes","mbox":"http://127.0.0.1:8650/project/test/cover/cover.1796437249.git.ann@example.org/mbox/"},"patches":[{"id":1,"url":"http://127.0.0.1:8650/api/1.2/patches/1/","web_url":"http://127.0.0.1:8650/project/test/patch/51bb38db9a4cbe4c9b6cc51dafa3cf5ca7a04e74.1796437249.git.ann@example.org/","msgid":"<51bb38db9a4cbe4c9b6cc51dafa3cf5ca7a04e74.1796437249.git.ann@example.org>","list_archive_url":null,"date":"2026-12-05T02:20:49","name":"[1/3] a: change 1","mbox":"http://127.0.0.1:8650/project/test/patch/51bb38db9a4cbe4c9b6cc51dafa3cf5ca7a04e74.1796437249.git.ann@example.org/mbox/"},{"id":2,"url":"http://127.0.0.1:8650/api/1.2/patches/2/","web_url":"http://127.0.0.1:8650/project/test/patch/f26a774e0e1356958c7232cc00dfff025bb98b33.1796437249.git.ann@example.org/","msgid":"<f26a774e0e1356958c7232cc00dfff025bb98b33.1796437249.git.ann@example.org>","list_archive_url":null,"date":"2026-12-05T02:20:49","name":"[2/3] a: change 2","mbox":"http://127.0.0.1:8650/project/test/patch/f26a774e0e1356958c7232cc00dfff025bb98b33.1796437249.git.ann@example.org/mbox/"},{"id":3,"url":"http://127.0.0.1:8650/api/1.2/patches/3/","web_url":"http://127.0.0.1:8650/project/test/patch/721348021a94e5381d69821abdcd5c3d1763d70e.1796437249.git.ann@example.org/","msgid":"<721348021a94e5381d69821abdcd5c3d1763d70e.1796437249.git.ann@example.org>","list_archive_url":null,"date":"2026-12-05T02:20:49","name":"[3/3] a: change 3","mbox":"http://127.0.0.1:8650/project/test/patch/721348021a94e5381d69821abdcd5c3d1763d70e.1796437249.git.ann@example.org/mbox/"}]})json";

constexpr const char* kEventsPage = R"json([{"id":9,"category":"series-completed","project":{"id":1,"url":"http://127.0.0.1:8650/api/1.2/projects/1/","name":"Test","link_name":"test","list_id":"test.example.org","list_email":"test@example.org","web_url":"","scm_url":"","webscm_url":"","list_archive_url":"","list_archive_url_format":"","commit_url_format":""},"date":"2026-12-05T02:20:54.740782","actor":null,"payload":{"series":{"id":1,"url":"http://127.0.0.1:8650/api/1.2/series/1/","web_url":"http://127.0.0.1:8650/project/test/list/?series=1","date":"2026-12-05T02:20:49","name":"a: three changes","version":1,"mbox":"http://127.0.0.1:8650/series/1/mbox/"}}}])json";

constexpr const char* kChecks = R"json([{"id":1,"url":"http://127.0.0.1:8650/api/1.2/patches/1/checks/1/","user":{"id":1,"url":"http://127.0.0.1:8650/api/1.2/users/1/","username":"ci","first_name":"","last_name":"","email":"ci@example.org"},"date":"2026-12-05T02:21:09.444688","state":"success","target_url":"http://ci.example.org/y","context":"vigil","description":"ok"},{"id":2,"url":"http://127.0.0.1:8650/api/1.2/patches/1/checks/2/","user":{"id":1,"url":"http://127.0.0.1:8650/api/1.2/users/1/","username":"ci","first_name":"","last_name":"","email":"ci@example.org"},"date":"2026-12-05T02:21:09.592293","state":"fail","target_url":"","context":"vigil","description":""}])json";

// An events page of series-completed events with these (event id, series id).
std::string Events(std::vector<std::pair<int, int>> ids) {
  nlohmann::json page = nlohmann::json::array();
  for (auto [id, series] : ids) {
    page.push_back({{"id", id},
                    {"category", "series-completed"},
                    {"date", fmt::format("2026-12-05T02:00:{:02}", id)},
                    {"payload", {{"series", {{"id", series}, {"version", 1}}}}}});
  }
  return page.dump();
}

sys::HttpResponse Ok(std::string body, std::string link = "") {
  sys::HttpResponse r;
  r.status = 200;
  if (!link.empty()) r.headers.emplace_back("link", std::move(link));
  r.body = std::move(body);
  return r;
}

sys::HttpResponse Reply(long status, std::string body) {
  sys::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Answers requests from a script, in order; records what was asked.
class FakeHttp : public sys::HttpTransport {
 public:
  Result<sys::HttpResponse> Perform(const sys::HttpRequest& request) override {
    requests.push_back(request);
    if (script.empty()) return Status::Internal("fake: no reply scripted for " + request.url);
    Result<sys::HttpResponse> next = std::move(script.front());
    script.pop_front();
    return next;
  }
  std::deque<Result<sys::HttpResponse>> script;
  std::vector<sys::HttpRequest> requests;
};

struct ClientTest : ::testing::Test {
  Client MakeClient(int attempts = 3, std::string token = kToken) {
    Client::Options o;
    o.base_url = std::string(kBase) + "/";
    o.token = std::move(token);
    o.attempts = attempts;
    o.sleep = [this](milliseconds d) { sleeps.push_back(d); };
    o.log = [this](const std::string& line) { logs.push_back(line); };
    return Client(http, o);
  }
  bool HasToken(const sys::HttpRequest& r) const {
    for (const auto& h : r.headers) {
      if (h.find(kToken) != std::string::npos) return true;
    }
    return false;
  }
  FakeHttp http;
  std::vector<milliseconds> sleeps;
  std::vector<std::string> logs;
};

TEST(ParseEvents, ReadsPatchworksSeriesCompletedEvents) {
  auto events = ParseEvents(kEventsPage);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].id, 9);
  EXPECT_EQ((*events)[0].series_id, 1);
  EXPECT_EQ((*events)[0].date, "2026-12-05T02:20:54.740782");
}

TEST(ParseEvents, SkipsEventsOfOtherCategories) {
  auto events = ParseEvents(
      R"([{"id":8,"category":"patch-completed","payload":{"patch":{"id":3}}},{"id":9,"category":"series-completed","payload":{"series":{"id":1}}}])");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].id, 9);
}

TEST(ParseEvents, MissingOrIllTypedIdsAreCorruption) {
  for (const char* bad : {
           R"([{"payload":{"series":{"id":1}}}])",
           R"([{"id":"9","payload":{"series":{"id":1}}}])",
           R"([{"id":9.5,"payload":{"series":{"id":1}}}])",
           R"([{"id":-9,"payload":{"series":{"id":1}}}])",
           R"([{"id":18446744073709551615,"payload":{"series":{"id":1}}}])",
           R"([{"id":9,"payload":{"series":{"id":null}}}])",
           R"([{"id":9,"payload":{"series":null}}])",
           R"([{"id":9}])",
           R"([7])",
           R"({"detail":"x"})",
           R"([{"id":9,)",
           "",
       }) {
    auto events = ParseEvents(bad);
    ASSERT_FALSE(events.ok()) << bad;
    EXPECT_EQ(events.status().code(), Status::Code::kCorruption) << bad;
    EXPECT_TRUE(events.status().message().starts_with("patchwork: ")) << events.status().message();
  }
}

TEST(ParseEvents, OptionalFieldsDefault) {
  auto events = ParseEvents(R"([{"id":9,"date":7,"payload":{"series":{"id":1}}}])");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  EXPECT_EQ((*events)[0].date, "");
}

TEST(ParseSeries, ReadsAPatchworkSeries) {
  auto s = ParseSeries(kSeries1);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->id, 1);
  EXPECT_EQ(s->name, "a: three changes");
  EXPECT_EQ(s->version, 1);
  EXPECT_EQ(s->total, 3);
  EXPECT_TRUE(s->received_all);
  EXPECT_EQ(s->date, "2026-12-05T02:20:49");
  EXPECT_EQ(s->web_url, "http://127.0.0.1:8650/project/test/list/?series=1");
  EXPECT_EQ(s->mbox_url, "http://127.0.0.1:8650/series/1/mbox/");
  EXPECT_EQ(s->submitter.name, "Ann Dev");
  EXPECT_EQ(s->submitter.email, "ann@example.org");
  ASSERT_TRUE(s->cover.has_value());
  EXPECT_EQ(s->cover->id, 1);
  EXPECT_EQ(s->cover->msgid, "<cover.1796437249.git.ann@example.org>");
  EXPECT_EQ(s->cover->name, "[0/3] a: three changes");
  ASSERT_EQ(s->patches.size(), 3u);
  EXPECT_EQ(s->patches[2].id, 3);
  EXPECT_EQ(s->patches[2].name, "[3/3] a: change 3");
  EXPECT_EQ(s->patches[2].msgid, "<721348021a94e5381d69821abdcd5c3d1763d70e.1796437249.git.ann@example.org>");
  EXPECT_EQ(s->patches[2].mbox_url,
            "http://127.0.0.1:8650/project/test/patch/721348021a94e5381d69821abdcd5c3d1763d70e.1796437249.git.ann@example.org/mbox/");
}

TEST(ParseSeries, OptionalFieldsDefaultAndANullCoverIsNone) {
  auto s = ParseSeries(R"({"id":4,"cover_letter":null,"version":"2","total":null,"submitter":"x","patches":{}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->id, 4);
  EXPECT_EQ(s->version, 1);
  EXPECT_EQ(s->total, 0);
  EXPECT_FALSE(s->received_all);
  EXPECT_FALSE(s->cover.has_value());
  EXPECT_TRUE(s->patches.empty());
  EXPECT_EQ(s->submitter.name, "");
}

TEST(ParseSeries, APatchOrCoverWithoutIdIsCorruption) {
  for (const char* bad : {R"({"id":4,"patches":[{"id":1},{"name":"x"}]})", R"({"id":4,"patches":[1]})",
                          R"({"id":4,"cover_letter":{"name":"x"}})", R"({"name":"x"})", R"([])", "{"}) {
    auto s = ParseSeries(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().code(), Status::Code::kCorruption) << bad;
  }
}

TEST(ParseChecks, ReadsPatchworkChecks) {
  auto checks = ParseChecks(kChecks);
  ASSERT_TRUE(checks.ok()) << checks.status().ToString();
  ASSERT_EQ(checks->size(), 2u);
  EXPECT_EQ((*checks)[0].state, "success");
  EXPECT_EQ((*checks)[0].context, "vigil");
  EXPECT_EQ((*checks)[0].description, "ok");
  EXPECT_EQ((*checks)[0].target_url, "http://ci.example.org/y");
  EXPECT_EQ((*checks)[1].state, "fail");
  EXPECT_EQ((*checks)[1].target_url, "");
  EXPECT_EQ(ParseChecks("[1]").status().code(), Status::Code::kCorruption);
  EXPECT_EQ(ParseChecks("{}").status().code(), Status::Code::kCorruption);
}

TEST(NextLink, FindsNextAmongPatchworksLinks) {
  // As Patchwork 3.1 sends it for page 2 of 5.
  EXPECT_EQ(NextLink("<http://127.0.0.1:8650/api/1.2/events/?page=3&per_page=2&project=test>; rel=\"next\", "
                     "<http://127.0.0.1:8650/api/1.2/events/?per_page=2&project=test>; rel=\"prev\", "
                     "<http://127.0.0.1:8650/api/1.2/events/?page=1&per_page=2&project=test>; rel=\"first\", "
                     "<http://127.0.0.1:8650/api/1.2/events/?page=5&per_page=2&project=test>; rel=\"last\""),
            "http://127.0.0.1:8650/api/1.2/events/?page=3&per_page=2&project=test");
  EXPECT_EQ(NextLink("<http://x/?page=1>; rel=\"prev\", <http://x/?page=3>; rel=\"next\""), "http://x/?page=3");
}

TEST(NextLink, NoneOnTheLastPage) {
  EXPECT_EQ(NextLink("<http://x/?page=1>; rel=\"first\", <http://x/?page=1>; rel=\"last\""), "");
  EXPECT_EQ(NextLink(""), "");
  EXPECT_EQ(NextLink("garbage"), "");
  EXPECT_EQ(NextLink("<http://x/; rel=next"), "");
  EXPECT_EQ(NextLink("<http://x/?p=2>; rel=\"nextish\""), "");
  EXPECT_EQ(NextLink("<http://x/?p=2>; title=\"next\""), "");
}

TEST(NextLink, AcceptsUnquotedCaseAndSeveralRelations) {
  EXPECT_EQ(NextLink("<http://x/?p=2>; REL=Next"), "http://x/?p=2");
  EXPECT_EQ(NextLink("<http://x/?p=2>;rel=\"last next\""), "http://x/?p=2");
  EXPECT_EQ(NextLink("<http://x/?p=2>; title=\"a\"; rel=next"), "http://x/?p=2");
}

TEST(ErrorDetail, ReadsDetailAndFieldErrors) {
  EXPECT_EQ(ErrorDetail(R"({"detail":"Invalid token."})"), "Invalid token.");
  EXPECT_EQ(ErrorDetail(R"({"state":["\"bogus\" is not a valid choice."],"target_url":["Enter a valid URL."]})"),
            "state: \"bogus\" is not a valid choice.; target_url: Enter a valid URL.");
  EXPECT_EQ(ErrorDetail("<html><body>502</body></html>"), "");
  EXPECT_EQ(ErrorDetail("plain words"), "plain words");
}

TEST(ErrorDetail, IsOneSanitizedLineOfBoundedLength) {
  std::string d = ErrorDetail(R"({"detail":"a\nb\u001b[31m)" + std::string(5000, 'x') + "\"}");
  EXPECT_EQ(d.find('\n'), std::string::npos);
  EXPECT_EQ(d.find('\x1b'), std::string::npos);
  EXPECT_LE(d.size(), 303u);
  EXPECT_TRUE(d.ends_with("...")) << d;
}

TEST_F(ClientTest, SeriesCompletedFollowsEveryPageAndReturnsOldestFirst) {
  // Newest first, three pages; event 5 arrives between pages 1 and 2, so
  // event 3 is served twice.
  http.script.push_back(Ok(Events({{4, 40}, {3, 30}}), "<http://pw.test:8000/api/1.2/events/?page=2>; rel=\"next\""));
  http.script.push_back(Ok(Events({{3, 30}, {2, 20}}), "<http://pw.test:8000/api/1.2/events/?page=1>; rel=\"prev\", "
                                                       "<http://pw.test:8000/api/1.2/events/?page=3>; rel=\"next\""));
  http.script.push_back(Ok(Events({{1, 10}}), "<http://pw.test:8000/api/1.2/events/?page=2>; rel=\"prev\""));
  Client client = MakeClient();
  auto events = client.SeriesCompleted("net-next", "2026-12-05T02:00:00+00:00");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  std::vector<int64_t> ids, series;
  for (const auto& e : *events) {
    ids.push_back(e.id);
    series.push_back(e.series_id);
  }
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(series, (std::vector<int64_t>{10, 20, 30, 40}));
  ASSERT_EQ(http.requests.size(), 3u);
  EXPECT_EQ(http.requests[0].method, "GET");
  EXPECT_EQ(http.requests[0].url,
            "http://pw.test:8000/api/1.2/events/?project=net-next&category=series-completed&per_page=250"
            "&since=2026-12-05T02%3A00%3A00%2B00%3A00");
  EXPECT_EQ(http.requests[1].url, "http://pw.test:8000/api/1.2/events/?page=2");
  EXPECT_EQ(http.requests[2].url, "http://pw.test:8000/api/1.2/events/?page=3");
  for (const auto& r : http.requests) EXPECT_FALSE(HasToken(r)) << "a read carries the token";
}

TEST_F(ClientTest, SeriesCompletedWithoutSinceAsksForAll) {
  http.script.push_back(Ok("[]"));
  Client client = MakeClient();
  auto events = client.SeriesCompleted("a b&c", "");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  EXPECT_TRUE(events->empty());
  EXPECT_EQ(http.requests[0].url,
            "http://pw.test:8000/api/1.2/events/?project=a%20b%26c&category=series-completed&per_page=250");
}

TEST_F(ClientTest, PagesThatLoopBackAreCorruption) {
  http.script.push_back(Ok(Events({{2, 2}}), "<http://pw.test:8000/p2>; rel=\"next\""));
  http.script.push_back(Ok(Events({{1, 1}}), "<http://pw.test:8000/p2>; rel=\"next\""));
  Client client = MakeClient();
  auto events = client.SeriesCompleted("test", "");
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(http.requests.size(), 2u);
}

TEST_F(ClientTest, AMalformedPageIsCorruptionWithoutRetry) {
  http.script.push_back(Ok(Events({{2, 2}}), "<http://pw.test:8000/p2>; rel=\"next\""));
  http.script.push_back(Ok(R"([{"id":1,"payload":{"series":{"id":"one"}}}])"));
  Client client = MakeClient();
  auto events = client.SeriesCompleted("test", "");
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), Status::Code::kCorruption);
  EXPECT_NE(events.status().message().find("event 1"), std::string::npos) << events.status().message();
  EXPECT_EQ(http.requests.size(), 2u);
  EXPECT_TRUE(sleeps.empty());
}

TEST_F(ClientTest, RetriesServerErrorsAndConnectionFailuresThenSucceeds) {
  http.script.push_back(Reply(503, "busy"));
  http.script.push_back(Status::IOError("GET http://pw.test:8000/api/1.2/series/1/: Connection refused"));
  http.script.push_back(Ok(kSeries1));
  Client client = MakeClient(5);
  auto s = client.GetSeries(1);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->patches.size(), 3u);
  EXPECT_EQ(http.requests.size(), 3u);
  EXPECT_EQ(http.requests[0].url, "http://pw.test:8000/api/1.2/series/1/");
  EXPECT_EQ(sleeps, (std::vector<milliseconds>{milliseconds(500), milliseconds(1000)}));
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[0], "patchwork: GET /api/1.2/series/1/: 503 Service Unavailable (attempt 1 of 5); retrying in 500 ms");
  EXPECT_NE(logs[1].find("Connection refused (attempt 2 of 5)"), std::string::npos) << logs[1];
}

TEST_F(ClientTest, RetriesExhaustedIsAnIOErrorNamingTheLastError) {
  for (long status : {500L, 429L, 408L, 502L}) http.script.push_back(Reply(status, ""));
  Client::Options o;
  o.base_url = kBase;
  o.token = kToken;
  o.attempts = 4;
  o.first_backoff = milliseconds(20'000);
  o.sleep = [this](milliseconds d) { sleeps.push_back(d); };
  Client client(http, o);
  auto s = client.GetSeries(7);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kIOError);
  EXPECT_EQ(s.status().message(), "patchwork: GET /api/1.2/series/7/ failed after 4 attempts: 502 Bad Gateway");
  EXPECT_EQ(http.requests.size(), 4u);
  // Doubling, capped at 30 s; no sleep after the last attempt.
  EXPECT_EQ(sleeps, (std::vector<milliseconds>{milliseconds(20'000), milliseconds(30'000), milliseconds(30'000)}));
}

TEST_F(ClientTest, HonoursRetryAfterOfA429UpToTheCap) {
  sys::HttpResponse busy = Reply(429, "");
  busy.headers.emplace_back("retry-after", "7");
  sys::HttpResponse very_busy = Reply(429, "");
  very_busy.headers.emplace_back("retry-after", "3600");
  http.script.push_back(busy);
  http.script.push_back(very_busy);
  http.script.push_back(Ok("[]"));
  Client client = MakeClient();
  auto checks = client.ListChecks(3);
  ASSERT_TRUE(checks.ok()) << checks.status().ToString();
  EXPECT_EQ(sleeps, (std::vector<milliseconds>{milliseconds(7'000), milliseconds(30'000)}));
}

TEST_F(ClientTest, ForbiddenPostIsInvalidArgumentWithoutRetryOrToken) {
  http.script.push_back(Reply(403, R"({"detail":"Invalid token."})"));
  Client client = MakeClient(5);
  Status s = client.PostCheck(7, Check{"success", "vigil-selftests", "12 passed", "https://ci.example.org/r/1"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "patchwork: 403 Forbidden on POST /api/1.2/patches/7/checks/: Invalid token.");
  EXPECT_EQ(s.message().find(kToken), std::string::npos);
  EXPECT_EQ(http.requests.size(), 1u);
  EXPECT_TRUE(sleeps.empty());
  EXPECT_TRUE(logs.empty());
}

TEST_F(ClientTest, UnauthorizedReadIsInvalidArgumentWithoutRetry) {
  http.script.push_back(Reply(401, R"({"detail":"Authentication credentials were not provided."})"));
  Client client = MakeClient(5);
  auto s = client.GetSeries(2);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.status().message(),
            "patchwork: 401 Unauthorized on GET /api/1.2/series/2/: Authentication credentials were not provided.");
  EXPECT_EQ(http.requests.size(), 1u);
}

TEST_F(ClientTest, TheTokenIsScrubbedFromWhatTheServerEchoes) {
  http.script.push_back(Reply(400, std::string(R"({"detail":"bad token )") + kToken + "\"}"));
  http.script.push_back(Reply(500, ""));
  http.script.push_back(Status::IOError(std::string("weird transport saying ") + kToken));
  Client client = MakeClient(2);
  Status bad = client.PostCheck(1, Check{"fail", "c", "d", ""});
  EXPECT_EQ(bad.message(), "patchwork: 400 Bad Request on POST /api/1.2/patches/1/checks/: bad token <token>");
  Status retried = client.PostCheck(1, Check{"fail", "c", "d", ""});
  EXPECT_EQ(retried.code(), Status::Code::kIOError);
  EXPECT_EQ(retried.message().find(kToken), std::string::npos) << retried.message();
  for (const auto& line : logs) EXPECT_EQ(line.find(kToken), std::string::npos) << line;
}

TEST_F(ClientTest, PostCheckSendsTheFieldsAsJsonWithTheToken) {
  http.script.push_back(Reply(201, R"({"id":1})"));
  Client client = MakeClient();
  Status s = client.PostCheck(7, Check{"warning", "vigil-selftests", "1 flaky \"quoted\"", "https://ci.example.org/r/1"});
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(http.requests.size(), 1u);
  const auto& r = http.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "http://pw.test:8000/api/1.2/patches/7/checks/");
  EXPECT_NE(std::find(r.headers.begin(), r.headers.end(), std::string("Authorization: Token ") + kToken),
            r.headers.end());
  EXPECT_NE(std::find(r.headers.begin(), r.headers.end(), "Content-Type: application/json"), r.headers.end());
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body, (nlohmann::json{{"state", "warning"},
                                  {"context", "vigil-selftests"},
                                  {"description", "1 flaky \"quoted\""},
                                  {"target_url", "https://ci.example.org/r/1"}}));
}

TEST_F(ClientTest, APostThatFailedOnTheWayIsLookedUpBeforeItIsSentAgain) {
  // The first POST is recorded but its answer lost (a 502 from a proxy):
  // the check found on the patch is not posted a second time.
  http.script.push_back(Reply(502, "bad gateway"));
  // Context vigil: fail "" (id 1), then the one just posted, success "ok" (id 2).
  http.script.push_back(Ok(R"([{"id":2,"state":"success","target_url":"http://ci.example.org/y","context":"vigil",)"
                           R"("description":"ok"},{"id":1,"state":"fail","target_url":"","context":"vigil","description":""}])"));
  Client client = MakeClient(5);
  Status s = client.PostCheck(1, Check{"success", "vigil", "ok", "http://ci.example.org/y"});
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(http.requests.size(), 2u);
  EXPECT_EQ(http.requests[0].method, "POST");
  EXPECT_EQ(http.requests[1].method, "GET");
  EXPECT_EQ(http.requests[1].url, "http://pw.test:8000/api/1.2/patches/1/checks/?per_page=250");

  // Said once before, by an older check (Patchwork's capture: success "ok"
  // is id 1, fail "" the newest): what Patchwork shows is not it, so it is
  // sent again.
  http.requests.clear();
  http.script.push_back(Reply(502, "bad gateway"));
  http.script.push_back(Ok(kChecks));
  http.script.push_back(Reply(201, R"({"id":3})"));
  s = client.PostCheck(1, Check{"success", "vigil", "ok", "http://ci.example.org/y"});
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(http.requests.size(), 3u);
  EXPECT_EQ(http.requests[2].method, "POST");

  // Not there: sent again, once.
  http.requests.clear();
  http.script.push_back(Status::IOError("POST: Connection reset by peer"));
  http.script.push_back(Ok("[]"));
  http.script.push_back(Reply(201, R"({"id":3})"));
  s = client.PostCheck(1, Check{"fail", "vigil", "new", ""});
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(http.requests.size(), 3u);
  EXPECT_EQ(http.requests[2].method, "POST");
  // A refusal is not retried.
  http.requests.clear();
  http.script.push_back(Reply(403, R"({"detail":"Invalid token."})"));
  s = client.PostCheck(1, Check{"fail", "vigil", "x", ""});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(http.requests.size(), 1u);
}

TEST_F(ClientTest, PostCheckWithoutTokenOrWithABadStateAsksNothing) {
  Client readonly = MakeClient(3, "");
  Status s = readonly.PostCheck(7, Check{"success", "c", "d", ""});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("no API token"), std::string::npos);
  Client client = MakeClient();
  EXPECT_EQ(client.PostCheck(7, Check{"passed", "c", "d", ""}).code(), Status::Code::kInvalidArgument);
  // Patchwork's context is a slug: what it would refuse is refused here.
  for (const std::string& context : std::vector<std::string>{"", "vigil/selftests", "a b", std::string(256, 'a')}) {
    Status refused = client.PostCheck(7, Check{"success", context, "d", ""});
    EXPECT_EQ(refused.code(), Status::Code::kInvalidArgument) << context;
    EXPECT_NE(refused.message().find("context"), std::string::npos) << refused.message();
  }
  Client newline = MakeClient(3, "abc\r\nX-Evil: 1");
  Status injected = newline.PostCheck(7, Check{"success", "c", "d", ""});
  EXPECT_EQ(injected.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(injected.message().find("X-Evil"), std::string::npos);
  EXPECT_TRUE(http.requests.empty());
}

TEST_F(ClientTest, ListChecksFollowsPages) {
  http.script.push_back(Ok(kChecks, "<http://pw.test:8000/api/1.2/patches/1/checks/?page=2>; rel=\"next\""));
  http.script.push_back(Ok(R"([{"state":"pending","context":"other"}])"));
  Client client = MakeClient();
  auto checks = client.ListChecks(1);
  ASSERT_TRUE(checks.ok()) << checks.status().ToString();
  ASSERT_EQ(checks->size(), 3u);
  EXPECT_EQ((*checks)[2].state, "pending");
  EXPECT_EQ(http.requests[0].url, "http://pw.test:8000/api/1.2/patches/1/checks/?per_page=250");
}

TEST_F(ClientTest, GetMboxReturnsTheBytesAsServed) {
  std::string mbox("From patchwork Sat Dec  5 02:20:49 2026\n\0\xff\r\n", 45);
  http.script.push_back(Ok(mbox));
  Client client = MakeClient();
  auto got = client.GetMbox("http://pw.test:8000/series/1/mbox/");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, mbox);
  EXPECT_FALSE(HasToken(http.requests[0]));
}

TEST_F(ClientTest, AUrlTheTransportRefusesIsInvalidArgumentWithoutRetry) {
  http.script.push_back(Status::InvalidArgument("GET ftp://pw.test/series/1/mbox/: not an http or https URL"));
  Client client = MakeClient(5);
  auto got = client.GetMbox("ftp://pw.test/series/1/mbox/");
  EXPECT_EQ(got.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(got.status().message(), "patchwork: GET ftp://pw.test/series/1/mbox/: not an http or https URL");
  EXPECT_EQ(http.requests.size(), 1u);
  EXPECT_TRUE(sleeps.empty());
}

TEST_F(ClientTest, NotFoundSeriesIsNotFoundAndAMismatchedOneCorruption) {
  http.script.push_back(Reply(404, R"({"detail":"Not found."})"));
  http.script.push_back(Reply(410, R"({"detail":"Gone."})"));
  http.script.push_back(Ok(kSeries1));
  Client client = MakeClient();
  auto missing = client.GetSeries(99);
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "patchwork: 404 Not Found on GET /api/1.2/series/99/: Not found.");
  EXPECT_EQ(client.GetSeries(98).status().code(), Status::Code::kNotFound);
  auto other = client.GetSeries(2);
  EXPECT_EQ(other.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(http.requests.size(), 3u);  // none retried
}

TEST_F(ClientTest, NoEventsPageIsInvalidArgument) {
  http.script.push_back(Reply(404, R"({"detail":"Not found."})"));
  Client client = MakeClient();
  auto events = client.SeriesCompleted("nope", "");
  EXPECT_EQ(events.status().code(), Status::Code::kInvalidArgument) << events.status().ToString();
}

}  // namespace
}  // namespace vigil::patchwork

// The viewer's server over real HTTP on a generated database: filters match the store's own counts,
// stored text comes out escaped, hostile requests get 4xx answers and leave the server serving, and
// a run writing the same file does not stall it.
#include <doctest/doctest.h>

#include <atomic>
#include <optional>
#include <set>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "../sampling/temp_dir.h"
#include "fixture_db.h"
#include "http_get.h"
#include "sampling/trace_store.h"
#include "sampling/trace_writer.h"
#include "viewer/query_params.h"
#include "viewer/request_target.h"
#include "viewer/server.h"

using namespace r1::viewer;
using namespace r1::viewer::testing;
using r1::sampling::TraceFilter;
using r1::sampling::TraceStore;
using r1::sampling::testing::TempDir;

namespace {

// Every match of group 1 of `pattern` in `text`.
std::vector<std::string> all_matches(const std::string& text, const std::string& pattern) {
  std::vector<std::string> found;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
    found.push_back((*it)[1]);
  return found;
}

struct Fixture {
  TempDir dir;
  std::string db = dir.file("traces.db");
  std::unique_ptr<Server> server;

  Fixture() {
    write_fixture_db(db);
    server = std::make_unique<Server>(ServerOptions{db, "127.0.0.1", 0, 2});
  }
  unsigned short port() const { return server->port(); }
  HttpResult get(const std::string& target) const { return http_get(port(), target); }
  nlohmann::json get_json(const std::string& target) const {
    const HttpResult result = get(target);
    REQUIRE(result.status == 200);
    return nlohmann::json::parse(result.body);
  }
};

int64_t id_of_completion(const std::string& db, const std::string& completion) {
  TraceStore store(db, true);
  TraceFilter filter;
  filter.limit = -1;
  for (const auto& row : store.list(filter))
    if (row.completion == completion) return row.id;
  return 0;
}

}  // namespace

TEST_CASE("the list page shows the store's count and one page of rows") {
  Fixture f;
  const HttpResult page = f.get("/");
  REQUIRE(page.status == 200);
  CHECK(page.content_type == "text/html; charset=utf-8");
  CHECK(page.body.find("data-total=\"" + std::to_string(fixture_trace_count()) + "\"") != std::string::npos);
  CHECK(all_matches(page.body, "<tr data-id=\"(\\d+)\"").size() == 20);
  CHECK(page.body.find("class=\"next\"") != std::string::npos);
  CHECK(page.body.find("<option value=\"reasoning_rl\">reasoning_rl</option>") != std::string::npos);
  CHECK(f.get("/traces").status == 200);
}

TEST_CASE("filters return only matching rows, as many as TraceStore::count says") {
  Fixture f;
  TraceStore store(f.db, true);
  for (const char* stage : {"zero", "reasoning_rl", "rejection_sampling"}) {
    CAPTURE(stage);
    TraceFilter filter;
    filter.stage = stage;
    filter.min_reward = 1.5;
    const int64_t expected = store.count(filter);
    REQUIRE(expected > 0);
    const auto json = f.get_json(std::string("/api/traces?limit=500&min_reward=1.5&stage=") + stage);
    CHECK(json["total"] == expected);
    CHECK(json["rows"].size() == std::size_t(expected));
    for (const auto& row : json["rows"]) {
      CHECK(row["stage"] == stage);
      CHECK(row["reward"].get<double>() >= 1.5);
    }
    // The HTML page agrees.
    const HttpResult page = f.get(std::string("/?limit=500&min_reward=1.5&stage=") + stage);
    CHECK(page.body.find("data-total=\"" + std::to_string(expected) + "\"") != std::string::npos);
    for (const std::string& row_stage : all_matches(page.body, "<tr data-id=\"\\d+\" data-stage=\"([^\"]*)\"")) CHECK(row_stage == stage);
    CHECK(all_matches(page.body, "<tr data-id=\"(\\d+)\"").size() == std::size_t(expected));
  }
  // Accepted, steps, tokens, language, finish reason, outcome, sort.
  TraceFilter rejected;
  rejected.accepted = false;
  CHECK(f.get_json("/api/traces?accepted=no")["total"] == store.count(rejected));
  const auto steps = f.get_json("/api/traces?stage=zero&min_step=2&max_step=3&limit=500");
  CHECK(steps["total"] == 2 * 16);
  for (const auto& row : steps["rows"]) CHECK((row["step"] >= 2 && row["step"] <= 3));
  const auto sorted = f.get_json("/api/traces?sort=reward&dir=desc&limit=50");
  for (std::size_t i = 1; i < sorted["rows"].size(); ++i) CHECK(sorted["rows"][i - 1]["reward"] >= sorted["rows"][i]["reward"]);
  const auto language = f.get_json("/api/traces?max_language=0.8&limit=500");
  REQUIRE(language["total"].get<int64_t>() > 0);
  for (const auto& row : language["rows"]) CHECK(row["language_share"].get<double>() <= 0.8);
  const auto length = f.get_json("/api/traces?finish=length&outcome=pass&limit=500");
  for (const auto& row : length["rows"]) CHECK((row["finish_reason"] == "length" && row["outcome"] == "pass"));
}

TEST_CASE("paging walks every row once") {
  Fixture f;
  std::set<int64_t> seen;
  std::string target = "/?stage=zero&limit=50";
  for (int page = 0; page < 10 && !target.empty(); ++page) {
    const HttpResult result = f.get(target);
    REQUIRE(result.status == 200);
    for (const std::string& id : all_matches(result.body, "<tr data-id=\"(\\d+)\"")) CHECK(seen.insert(std::stoll(id)).second);
    const auto next = all_matches(result.body, "<a class=\"next\" href=\"([^\"]*)\"");
    target = next.empty() ? "" : std::regex_replace(next[0], std::regex("&amp;"), "&");
  }
  CHECK(seen.size() == 8 * 16);
}

TEST_CASE("search finds a word with the other filters applied") {
  Fixture f;
  const auto json = f.get_json(std::string("/api/traces?limit=500&q=") + kRareWord);
  REQUIRE(!json["rows"].empty());
  for (const auto& row : json["rows"]) CHECK(row["completion"].get<std::string>().find(kRareWord) != std::string::npos);
  const HttpResult page = f.get(std::string("/?q=") + kRareWord + "&stage=zero");
  REQUIRE(page.status == 200);
  for (const std::string& stage : all_matches(page.body, "<tr data-id=\"\\d+\" data-stage=\"([^\"]*)\"")) CHECK(stage == "zero");
  CHECK(page.body.find("Matches for <b>zebra</b>") != std::string::npos);
  // Quotes and FTS operators in the search box are plain words, not syntax.
  CHECK(f.get("/?q=%22unbalanced+OR+NEAR(+*").status == 200);
}

TEST_CASE("a trace page shows reasoning and answer apart, with every stored text escaped") {
  Fixture f;
  const int64_t id = id_of_completion(f.db, kScriptCompletion);
  REQUIRE(id > 0);
  const HttpResult page = f.get("/trace/" + std::to_string(id));
  REQUIRE(page.status == 200);
  const std::string& body = page.body;
  CHECK(body.find("<script>") == std::string::npos);
  CHECK(body.find("<img") == std::string::npos);
  CHECK(body.find("<b>42</b>") == std::string::npos);
  CHECK(body.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(body.find("&#39; OR 1=1 --") != std::string::npos);
  CHECK(body.find("&lt;img src=x onerror=alert(2)&gt;") != std::string::npos);
  CHECK(body.find("<pre class=\"text-block reasoning\">try &lt;script&gt;") != std::string::npos);
  CHECK(body.find("<pre class=\"text-block answer\">&lt;b&gt;42&lt;/b&gt;</pre>") != std::string::npos);
  CHECK(body.find("data-component=\"accuracy\"") != std::string::npos);
  CHECK(body.find("data-component=\"format\"") != std::string::npos);
  CHECK(body.find("class=\"prev\" href=\"/trace/" + std::to_string(id - 1) + "\"") != std::string::npos);
  CHECK(body.find("class=\"next\" href=\"/trace/" + std::to_string(id + 1) + "\"") != std::string::npos);

  const HttpResult bad_bytes = f.get("/trace/" + std::to_string(id_of_completion(f.db, kInvalidUtf8Completion)));
  REQUIRE(bad_bytes.status == 200);
  CHECK(bad_bytes.body.find("bad \xEF\xBF\xBD\xEF\xBF\xBD bytes \xEF\xBF\xBD") != std::string::npos);
  CHECK(nlohmann::json::parse(f.get("/api/trace/" + std::to_string(id)).body)["completion"] == kScriptCompletion);

  // The database is intact: the SQL in the text stayed text.
  TraceStore store(f.db, true);
  CHECK(store.count() == fixture_trace_count());
  CHECK(f.get("/trace/999999").status == 404);
  CHECK(f.get("/trace/0").status == 404);
  CHECK(f.get("/api/trace/999999").status == 404);
}

TEST_CASE("charts: one SVG per stage and metric with one polyline point per step") {
  Fixture f;
  const HttpResult page = f.get("/charts");
  REQUIRE(page.status == 200);
  for (const auto& stage : fixture_stages()) {
    for (const char* metric : {"reward", "accuracy", "length", "language"}) {
      CAPTURE(stage.name);
      CAPTURE(metric);
      const std::string pattern = "<svg class=\"chart\" data-stage=\"" + std::string(stage.name) + "\" data-metric=\"" +
                                  metric + "\" data-points=\"(\\d+)\"";
      const auto points = all_matches(page.body, pattern);
      REQUIRE(points.size() == 1);
      CHECK(std::stoll(points[0]) == stage.steps);
    }
  }
  CHECK(page.body.find("data-metric=\"metrics.loss\"") != std::string::npos);
  // Acceptance only where rejection sampling judged; elsewhere "no data", not an empty chart.
  CHECK(page.body.find("<div class=\"no-data\" data-stage=\"zero\" data-metric=\"acceptance\">") != std::string::npos);
  CHECK(page.body.find("data-stage=\"rejection_sampling\" data-metric=\"acceptance\" data-points=\"1\"") != std::string::npos);
  const HttpResult one = f.get("/charts?stage=reasoning_rl");
  CHECK(one.body.find("data-stage=\"zero\"") == std::string::npos);
  CHECK(f.get("/charts?stage=nonexistent").body.find("No data") != std::string::npos);
  const auto stats = f.get_json("/api/stats?stage=zero");
  CHECK(stats["stats"].size() == 8);
  // The same object `r1 traces stats --json` prints per line (sampling::step_stats_json).
  const auto& first = stats["stats"][0];
  CHECK(first["stage"] == "zero");
  for (const char* key : {"reward", "tokens", "language_share"}) {
    CAPTURE(key);
    CHECK(first[key]["count"].get<int64_t>() == first["count"].get<int64_t>());
    CHECK(first[key]["std"].is_number());
  }
  CHECK(first["components"].contains("accuracy"));
  CHECK(stats["step_metrics"].size() == 8);
}

TEST_CASE("hostile requests get 4xx answers, never a crash, and the server keeps serving") {
  Fixture f;
  const unsigned short port = f.port();
  // SQL and markup in every parameter: text parameters are bound values, numeric ones refused.
  // (JSON answers may hold the text raw: they are application/json with nosniff, never rendered.)
  for (const char* value : {"' OR 1=1 --", "\"; DROP TABLE samples; --", "<script>alert(1)</script>", "%27%22",
                            "1; DELETE FROM samples"}) {
    for (const std::string& name : trace_query_names()) {
      CAPTURE(name);
      CAPTURE(value);
      const std::string encoded = percent_encode(percent_decode(value, false));
      for (const char* page : {"/?", "/api/traces?", "/charts?", "/api/stats?"}) {
        const HttpResult result = f.get(page + name + "=" + encoded);
        CHECK((result.status == 200 || result.status == 400));
        if (result.content_type.rfind("text/html", 0) == 0) CHECK(result.body.find("<script>alert") == std::string::npos);
        else CHECK(result.content_type == "application/json");
      }
    }
  }
  struct Case {
    const char* target;
    unsigned status;
  };
  const Case cases[] = {
      {"/?min_step=99999999999999999999", 400}, {"/?min_reward=1e400", 400}, {"/?max_reward=-1e400", 400},
      {"/?min_reward=nan", 400},                {"/?offset=-1", 400},        {"/?offset=-99999999999999999999", 400},
      {"/?limit=0", 400},                       {"/?limit=-5", 400},         {"/?min_tokens=abc", 400},
      {"/?run=1e3", 400},                       {"/?sort=id;DROP", 400},     {"/?dir=sideways", 400},
      {"/?q=%zz", 400},                         {"/?q=%", 400},              {"/trace/99999999999999999999", 400},
      {"/trace/-1", 404},                       {"/trace/abc", 404},         {"/trace/1abc", 404},
      {"/trace/", 404},                         {"/../../etc/passwd", 400},  {"/%2e%2e/%2e%2e/etc/passwd", 400},
      {"/%2E%2E/etc/passwd", 400},              {"/trace/..%2f..%2fetc", 400}, {"/etc/passwd", 404},
      {"/static/style.css", 404},               {"/favicon.ico", 404},       {"/%00", 400},
      {"/api/nothing", 404},                    {"/charts/", 404},           {"/?offset=1000000000000", 200},
      {"/?q=x&min_reward=0.5&max_reward=0.4", 200},
  };
  for (const Case& c : cases) {
    CAPTURE(c.target);
    const HttpResult result = f.get(c.target);
    CHECK(result.status == c.status);
    CHECK(result.body.find("<script>") == std::string::npos);
  }
  CHECK(f.get("/?q=" + std::string(9000, 'a')).status == 414);
  CHECK(http_request(port, "GET", "/api/traces?offset=-1").content_type == "application/json");

  const HttpResult post = http_request(port, "POST", "/");
  CHECK(post.status == 405);
  CHECK(post.allow == "GET, HEAD");
  CHECK(http_request(port, "DELETE", "/trace/1").status == 405);
  CHECK(http_request(port, "PUT", "/").status == 405);
  CHECK(http_request(port, "BREW", "/").status == 405);
  const HttpResult head = http_request(port, "HEAD", "/charts");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(std::stoll(head.content_length) > 1000);

  CHECK(http_request(port, "GET", "/", "evil.example").status == 403);
  CHECK(http_request(port, "GET", "/", "localhost").status == 200);
  CHECK(raw_request(port, "GARBAGE\r\n\r\n").status == 400);
  const char kNulTarget[] = "GET /a\0b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  CHECK(raw_request(port, std::string(kNulTarget, sizeof(kNulTarget) - 1)).status == 400);
  CHECK(raw_request(port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(40000, 'x') + "\r\n\r\n").status == 431);

  // Still serving, and the data untouched.
  CHECK(f.get("/").status == 200);
  TraceStore store(f.db, true);
  CHECK(store.count() == fixture_trace_count());
}

TEST_CASE("many clients at once are all answered") {
  Fixture f;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c)
    clients.emplace_back([&, c] {
      for (int i = 0; i < 10; ++i)
        if (f.get(i % 2 ? "/charts" : "/?offset=" + std::to_string(c * 10 + i)).status == 200) ++ok;
    });
  for (auto& client : clients) client.join();
  CHECK(ok == 80);
}

// Requests `targets` over and over while a TraceWriter in another thread commits a run's steps to
// the same file, one transaction per step as a run does. No REQUIRE while the writer runs: a failed
// one would leave its thread unjoined.
struct LiveRun {
  int answered = 0;
  std::vector<std::string> failures;
  bool saw_growth = false;  // the viewer saw samples committed after it started
  int64_t final_total = 0;
  int batches = 0;
};

LiveRun read_while_writing(const std::vector<std::string>& targets) {
  TempDir dir;
  const std::string db = dir.file("live.db");
  write_fixture_db(db);
  Server server(ServerOptions{db, "127.0.0.1", 0, 2});
  const auto live_total = [&]() -> std::optional<int64_t> {
    const HttpResult list = http_get(server.port(), "/api/traces?stage=live_rl&limit=1");
    if (list.status != 200) return std::nullopt;
    return nlohmann::json::parse(list.body)["total"].get<int64_t>();
  };
  LiveRun live;
  std::atomic<int> batches{0};
  std::thread writer([&] {
    r1::sampling::TraceWriter writer(db);
    const int64_t run = writer.begin_run("live", "");
    std::mt19937_64 rng(3);
    const FixtureStage stage{"live_rl", 1, 8, 8, false};
    for (int64_t step = 0; step < 60; ++step) {
      writer.add_samples(run, fixture_records(stage, step, rng));
      writer.add_step_metrics(run, "live_rl", step, {{"loss", 1.0}});
      writer.flush();
      ++batches;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a run's steps are not back to back
    }
  });
  int64_t last_total = 0;
  do {
    if (const auto total = live_total()) {
      live.saw_growth = live.saw_growth || *total > last_total;
      last_total = *total;
    } else {
      live.failures.push_back("/api/traces");
    }
    for (const std::string& target : targets) {
      const HttpResult result = http_get(server.port(), target);  // within the client's 20 s deadline
      if (result.status != 200) live.failures.push_back(target + ": " + std::to_string(result.status) + " " + result.error);
    }
    ++live.answered;
  } while (batches < 60 && live.answered < 5000);
  writer.join();
  live.batches = batches;
  live.final_total = live_total().value_or(-1);
  return live;
}

TEST_CASE("the server answers while a run writes the same file") {
  const LiveRun live = read_while_writing({"/?stage=live_rl&sort=reward&dir=desc", "/trace/1", "/?q=carry"});
  CHECK(live.answered > 1);
  CHECK(live.failures.empty());
  if (!live.failures.empty()) MESSAGE("first failure: ", live.failures.front());
  CHECK(live.saw_growth);  // the viewer sees the run's samples as they are committed
  CHECK(live.final_total == int64_t(live.batches) * 64);
}

// TraceStore::stats() runs three queries (totals, rejections, components) outside one read
// transaction, so a commit between them can hand the later ones a step the first did not see, and
// stats() throws std::out_of_range ("map::at") -> a 500 here. A sampling fix (one read transaction
// around the three queries) is requested; until then this case may fail without failing the suite.
TEST_CASE("charts answer while a run writes the same file") {
  const LiveRun live = read_while_writing({"/charts?stage=live_rl", "/api/stats"});
  CHECK(live.failures.empty());
  if (!live.failures.empty()) MESSAGE(live.failures.size(), " failures; first: ", live.failures.front());
}

// The viewer's text handling without a server: URL decoding and target checks, typed query values,
// HTML escaping and UTF-8 repair, the Host check, and the SVG chart's shape.
#include <doctest/doctest.h>

#include <limits>
#include <regex>

#include "viewer/app.h"
#include "viewer/html.h"
#include "viewer/query_params.h"
#include "viewer/request_target.h"
#include "viewer/svg_chart.h"

using namespace r1::viewer;

namespace {

unsigned status_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const HttpError& e) {
    return e.status();
  }
  return 0;
}

QueryParams params_of(std::map<std::string, std::string> values) { return QueryParams(std::move(values)); }

}  // namespace

TEST_CASE("percent_decode decodes %XX and '+' in queries, and refuses bad escapes") {
  CHECK(percent_decode("a%20b+c", true) == "a b c");
  CHECK(percent_decode("a%20b+c", false) == "a b+c");
  CHECK(percent_decode("%3Cscript%3e", true) == "<script>");
  CHECK(percent_decode("%E2%9C%93", true) == "\xE2\x9C\x93");
  CHECK(percent_decode("%2B", true) == "+");  // an encoded plus stays a plus
  for (const char* bad : {"%", "%4", "%zz", "a%g1", "%%41"}) {
    CAPTURE(bad);
    CHECK(status_of([&] { percent_decode(bad, true); }) == 400);
  }
}

TEST_CASE("percent_encode round-trips every byte") {
  std::string all;
  for (int byte = 0; byte < 256; ++byte) all += char(byte);
  CHECK(percent_decode(percent_encode(all), true) == all);
  CHECK(percent_encode("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9");
  CHECK(build_query({{"stage", "zero"}, {"q", ""}, {"min_reward", "0.5"}}) == "stage=zero&min_reward=0.5");
}

TEST_CASE("parse_target splits path and query and refuses what no route wants") {
  const RequestTarget target = parse_target("/trace/12?stage=zero&q=a+b&q=last&flag&&min_reward=%2D1");
  CHECK(target.path == "/trace/12");
  CHECK(target.query.at("stage") == "zero");
  CHECK(target.query.at("q") == "last");
  CHECK(target.query.at("flag").empty());
  CHECK(target.query.at("min_reward") == "-1");

  CHECK(status_of([] { parse_target("/../../etc/passwd"); }) == 400);
  CHECK(status_of([] { parse_target("/%2e%2e/%2e%2e/etc/passwd"); }) == 400);
  CHECK(status_of([] { parse_target("/%2E%2E/etc/passwd"); }) == 400);
  CHECK(status_of([] { parse_target("/charts/./x"); }) == 400);
  CHECK(status_of([] { parse_target("/a%00b"); }) == 400);
  CHECK(status_of([] { parse_target("/?q=a%00"); }) == 400);
  CHECK(status_of([] { parse_target("http://example.com/"); }) == 400);
  CHECK(status_of([] { parse_target(""); }) == 400);
  CHECK(status_of([] { parse_target("/?q=%zz"); }) == 400);
  CHECK(status_of([] { parse_target("/?q=" + std::string(kMaxTargetBytes, 'a')); }) == 414);
  CHECK(status_of([] { parse_target("/..."); }) == 0);  // a name with dots is not a dot segment
}

TEST_CASE("QueryParams reads clean numbers in range and refuses the rest with 400") {
  const QueryParams params({{"a", "12"}, {"neg", "-3"}, {"huge", "99999999999999999999"}, {"junk", "12abc"},
                            {"space", " 1"}, {"plus", "+1"}, {"empty", ""}, {"x", "0.25"}, {"exp", "1e-3"},
                            {"big", "1e400"}, {"nan", "nan"}, {"inf", "inf"}, {"hex", "0x10"}, {"sql", "1 OR 1=1"}});
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  CHECK(params.integer("a", 0, 100) == 12);
  CHECK(params.integer("neg", -5, 5) == -3);
  CHECK(status_of([&] { params.integer("neg", 0, kMax); }) == 400);
  CHECK(!params.integer("missing", 0, 10).has_value());
  CHECK(!params.integer("empty", 0, 10).has_value());
  for (const char* bad : {"huge", "junk", "space", "plus", "x", "hex", "sql"}) {
    CAPTURE(bad);
    CHECK(status_of([&] { params.integer(bad, std::numeric_limits<int64_t>::min(), kMax); }) == 400);
  }
  CHECK(params.number("x", 0, 1) == doctest::Approx(0.25));
  CHECK(params.number("exp", 0, 1) == doctest::Approx(0.001));
  for (const char* bad : {"big", "nan", "inf", "junk", "hex", "sql", "space"}) {
    CAPTURE(bad);
    CHECK(status_of([&] { params.number(bad, -1e300, 1e300); }) == 400);
  }
  CHECK(status_of([&] { params.choice("sql", {"id", "step"}); }) == 400);
}

TEST_CASE("parse_trace_query maps every parameter onto the filter") {
  const auto query = parse_trace_query(QueryParams(
      {{"stage", "zero"}, {"min_step", "2"}, {"max_step", "5"}, {"min_reward", "0.5"}, {"accepted", "no"},
       {"finish", "length"}, {"min_language", "0.2"}, {"max_tokens", "99"}, {"sort", "reward"}, {"dir", "desc"},
       {"offset", "40"}, {"limit", "50"}, {"q", "  carry  "}, {"outcome", "pass"}, {"run", "1"}}));
  const auto& f = query.filter;
  CHECK(f.stage == "zero");
  CHECK(f.min_step == 2);
  CHECK(f.max_step == 5);
  CHECK(f.min_reward == 0.5);
  CHECK(f.accepted == false);
  CHECK(f.finish_reason == "length");
  CHECK(f.min_language == 0.2);
  CHECK(f.max_tokens == 99);
  CHECK(f.sort == r1::sampling::TraceSort::reward);
  CHECK(f.descending);
  CHECK(f.offset == 40);
  CHECK(f.limit == 50);
  CHECK(f.outcome == "pass");
  CHECK(f.run_id == 1);
  CHECK(query.search == "  carry  ");
  CHECK(parse_trace_query(params_of({{"q", "   "}})).search.empty());
  CHECK(status_of([] { parse_trace_query(params_of({{"offset", "-1"}})); }) == 400);
  CHECK(status_of([] { parse_trace_query(params_of({{"limit", "0"}})); }) == 400);
  CHECK(status_of([] { parse_trace_query(params_of({{"limit", "100000"}})); }) == 400);
  CHECK(status_of([] { parse_trace_query(params_of({{"min_language", "50"}})); }) == 400);
  CHECK(status_of([] { parse_trace_query(params_of({{"accepted", "maybe"}})); }) == 400);
}

TEST_CASE("escape_html leaves no markup and valid_utf8 repairs bad bytes") {
  CHECK(escape_html("<script>alert('x')</script> & \"q\"") ==
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(valid_utf8("ok \xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80") == "ok \xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80");
  CHECK(valid_utf8("a\xFF" "b") == "a" + fffd + "b");
  CHECK(valid_utf8("cut \xC3") == "cut " + fffd);
  CHECK(valid_utf8("\xC0\xAF") == fffd + fffd);          // overlong '/'
  CHECK(valid_utf8("\xED\xA0\x80") == fffd + fffd + fffd);  // a UTF-16 surrogate
  CHECK(valid_utf8("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // past U+10FFFF
  CHECK(valid_utf8(std::string("nul\0here", 8)) == "nul" + fffd + "here");
  CHECK(valid_utf8("tab\tline\n") == "tab\tline\n");
  CHECK(preview("line one\nline two", 8) == "line one\xE2\x80\xA6");
  CHECK(preview("\xC3\xA9\xC3\xA9\xC3\xA9", 2) == "\xC3\xA9\xC3\xA9\xE2\x80\xA6");  // cut between characters
  CHECK(format_count(1234567) == "1,234,567");
  CHECK(format_number(r1::sampling::kUnknown) == "\xE2\x80\x94");
}

TEST_CASE("host_allowed answers loopback names only on a loopback bind") {
  CHECK(host_allowed("127.0.0.1:8080", "127.0.0.1"));
  CHECK(host_allowed("localhost:9000", "127.0.0.1"));  // an ssh tunnel's port differs
  CHECK(host_allowed("LOCALHOST", "127.0.0.1"));
  CHECK(host_allowed("[::1]:8080", "127.0.0.1"));
  CHECK(host_allowed("", "127.0.0.1"));
  CHECK_FALSE(host_allowed("evil.example:8080", "127.0.0.1"));
  CHECK_FALSE(host_allowed("127.0.0.1.evil.example", "127.0.0.1"));
  CHECK_FALSE(host_allowed("127.evil.example", "localhost"));
  CHECK(host_allowed("evil.example", "0.0.0.0"));  // exposed on purpose
}

TEST_CASE("render_line_chart draws one polyline point per finite value, or says no data") {
  LineChart chart{"zero", "reward", "mean reward <b>", {}, std::nullopt};
  for (int step = 0; step < 7; ++step) chart.points.push_back({step, step == 3 ? r1::sampling::kUnknown : 0.1 * step});
  const std::string svg = render_line_chart(chart);
  std::smatch match;
  REQUIRE(std::regex_search(svg, match, std::regex("<polyline class=\"line\" points=\"([^\"]*)\"")));
  const std::string points = match[1];
  CHECK(std::count(points.begin(), points.end(), ',') == 6);
  CHECK(svg.find("data-metric=\"reward\"") != std::string::npos);
  CHECK(svg.find("data-points=\"6\"") != std::string::npos);
  CHECK(svg.find("mean reward &lt;b&gt;") != std::string::npos);
  CHECK(svg.find("nan") == std::string::npos);

  LineChart empty{"zero", "language", "language share", {{0, r1::sampling::kUnknown}}, std::pair(0.0, 1.0)};
  const std::string none = render_line_chart(empty);
  CHECK(none.find("no data") != std::string::npos);
  CHECK(none.find("<svg") == std::string::npos);

  LineChart flat{"zero", "x", "one point", {{5, 2.0}}, std::nullopt};
  CHECK(render_line_chart(flat).find("data-points=\"1\"") != std::string::npos);
  LineChart extreme{"zero", "x", "extreme", {{0, -1e308}, {1, 1e308}, {2, 1e15}, {3, 1e15 + 1}}, std::nullopt};
  CHECK(render_line_chart(extreme).find("data-points=\"4\"") != std::string::npos);  // finishes
}

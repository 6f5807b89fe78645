// The YAML config binder: reading, defaults, errors with file:line:col, --set overrides, writing.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "common/config.h"

namespace {

using r1::UserError;
using r1::config::Document;
using r1::config::to_node;
using r1::config::to_yaml;

struct Sampling {
  double temperature = 1.0;
  int max_tokens = 128;
  template <class V>
  void visit(V& v) {
    v("temperature", temperature);
    v.required("max_tokens", max_tokens);
    v.check(temperature >= 0, "temperature", "must be >= 0");
  }
  bool operator==(const Sampling&) const = default;
};

struct Optim {
  double lr = 1e-3;
  float beta = 0.9f;
  std::int64_t steps = 100;
  std::uint64_t seed = 7;
  bool use_ema = false;
  template <class V>
  void visit(V& v) {
    v("lr", lr);
    v("beta", beta);
    v("steps", steps);
    v("seed", seed);
    v("use_ema", use_ema);
  }
  bool operator==(const Optim&) const = default;
};

struct Pipeline {
  std::string name = "r1";
  Sampling sampling;
  Optim zero;
  std::vector<int> stages;
  std::vector<Sampling> sweeps;
  std::map<std::string, double> weights;
  std::map<std::string, Optim> per_stage;
  std::vector<std::string> tags;
  template <class V>
  void visit(V& v) {
    v("name", name);
    v("sampling", sampling);
    v("zero", zero);
    v("stages", stages);
    v("sweeps", sweeps);
    v("weights", weights);
    v("per_stage", per_stage);
    v("tags", tags);
  }
  bool operator==(const Pipeline&) const = default;
};

struct Narrow {
  int count = 0;
  std::uint64_t big = 0;
  std::int64_t wide = 0;
  float ratio = 0;
  bool flag = false;
  template <class V>
  void visit(V& v) {
    v("count", count);
    v("big", big);
    v("wide", wide);
    v("ratio", ratio);
    v("flag", flag);
  }
};

// A folder under the system temp directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("r1_test_config_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::ofstream(file) << text;
    return file.string();
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The UserError message `action` throws; fails the test when it throws nothing.
std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const UserError& error) {
    return error.what();
  }
  FAIL("expected a UserError");
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const char* const kPipelineYaml =
    "name: grpo-run\n"                // 1
    "sampling:\n"                     // 2
    "  temperature: 0.7\n"            // 3
    "  max_tokens: 256\n"             // 4
    "zero:\n"                         // 5
    "  lr: 3e-6\n"                    // 6
    "  beta: 0.95\n"                  // 7
    "  steps: 5000000000\n"           // 8
    "  seed: 18446744073709551615\n"  // 9
    "  use_ema: true\n"               // 10
    "stages: [1, 2, 3]\n"             // 11
    "sweeps:\n"                       // 12
    "  - max_tokens: 8\n"             // 13
    "  - max_tokens: 16\n"            // 14
    "    temperature: 0\n"            // 15
    "weights:\n"                      // 16
    "  accuracy: 1.0\n"               // 17
    "  format: 0.25\n"                // 18
    "per_stage:\n"                    // 19
    "  sft:\n"                        // 20
    "    lr: 1e-5\n"                  // 21
    "tags: [a, \"b c\"]\n";           // 22

}  // namespace

TEST_CASE("config: nested structs, vectors, maps and 64-bit integers are read") {
  TempDir dir;
  const auto cfg = Document::load_file(dir.write("run.yaml", kPipelineYaml)).bind<Pipeline>();
  CHECK(cfg.name == "grpo-run");
  CHECK(cfg.sampling.temperature == doctest::Approx(0.7));
  CHECK(cfg.sampling.max_tokens == 256);
  CHECK(cfg.zero.lr == doctest::Approx(3e-6));
  CHECK(cfg.zero.beta == doctest::Approx(0.95f));
  CHECK(cfg.zero.steps == 5000000000LL);
  CHECK(cfg.zero.seed == std::numeric_limits<std::uint64_t>::max());
  CHECK(cfg.zero.use_ema);
  CHECK(cfg.stages == std::vector<int>{1, 2, 3});
  REQUIRE(cfg.sweeps.size() == 2);
  CHECK(cfg.sweeps[0] == Sampling{1.0, 8});
  CHECK(cfg.sweeps[1] == Sampling{0.0, 16});
  CHECK(cfg.weights == std::map<std::string, double>{{"accuracy", 1.0}, {"format", 0.25}});
  REQUIRE(cfg.per_stage.count("sft") == 1);
  CHECK(cfg.per_stage.at("sft").lr == doctest::Approx(1e-5));
  CHECK(cfg.per_stage.at("sft").steps == 100);  // default inside a map entry
  CHECK(cfg.tags == std::vector<std::string>{"a", "b c"});
}

TEST_CASE("config: absent and null keys keep their defaults") {
  const auto cfg = Document::load_string("name: x\nzero:\n  lr: 0.5\n  beta:\n", "mem.yaml").bind<Pipeline>();
  CHECK(cfg.name == "x");
  CHECK(cfg.zero.lr == 0.5);
  CHECK(cfg.zero.beta == 0.9f);  // "beta:" is null: default kept
  CHECK(cfg.zero.steps == 100);
  CHECK(cfg.sampling == Sampling{});
  CHECK(cfg.stages.empty());
  CHECK(cfg.weights.empty());

  // An empty document binds to all defaults.
  CHECK(Document::load_string("", "empty.yaml").bind<Pipeline>() == Pipeline{});
  CHECK(Document::load_string("# only a comment\n", "empty.yaml").bind<Pipeline>() == Pipeline{});
}

TEST_CASE("config: a missing required key names the key, the file and the line") {
  TempDir dir;
  const auto path = dir.write("run.yaml", "name: x\nsampling:\n  temperature: 0.5\n");
  const auto message = error_of([&] { Document::load_file(path).bind<Pipeline>(); });
  CHECK(message == path + ":3:3: sampling.max_tokens: missing required key 'max_tokens'");

  // Present but empty.
  const auto empty = error_of([] { Document::load_string("temperature: 1\nmax_tokens:\n", "s.yaml").bind<Sampling>(); });
  CHECK(empty == "s.yaml:2:1: max_tokens: required key 'max_tokens' has no value");

  // Inside a list element: the path carries the index.
  const auto in_list = error_of([] {
    Document::load_string("sweeps:\n  - max_tokens: 1\n  - temperature: 2\n", "l.yaml").bind<Pipeline>();
  });
  CHECK(in_list == "l.yaml:3:5: sweeps[1].max_tokens: missing required key 'max_tokens'");
}

TEST_CASE("config: unknown keys are reported with a suggestion, first in document order") {
  TempDir dir;
  const auto path = dir.write("run.yaml", "sampling:\n  max_tokens: 4\n  temprature: 0.5\n  zzzzzz: 1\n");
  const auto message = error_of([&] { Document::load_file(path).bind<Pipeline>(); });
  CHECK(message == path + ":3:3: sampling.temprature: unknown key 'sampling.temprature'; did you mean 'temperature'?");

  // No plausible candidate: no suggestion.
  const auto far = error_of([] { Document::load_string("max_tokens: 1\nzzzzzz: 1\n", "far.yaml").bind<Sampling>(); });
  CHECK(far == "far.yaml:2:1: zzzzzz: unknown key 'zzzzzz'");

  // Top level, misspelt section name.
  const auto section = error_of([] { Document::load_string("name: a\nsamplng: {}\n", "t.yaml").bind<Pipeline>(); });
  CHECK(section == "t.yaml:2:1: samplng: unknown key 'samplng'; did you mean 'sampling'?");

  // A misspelt key is reported before a check that fails because of it.
  const auto before_check = error_of([] {
    Document::load_string("temperature: -1\nmax_tokns: 3\nmax_tokens: 3\n", "c.yaml").bind<Sampling>();
  });
  CHECK(contains(before_check, "c.yaml:2:1: max_tokns: unknown key 'max_tokns'; did you mean 'max_tokens'?"));

  // Duplicate keys are not silently dropped.
  const auto duplicate = error_of([] { Document::load_string("max_tokens: 1\nmax_tokens: 2\n", "d.yaml").bind<Sampling>(); });
  CHECK(duplicate == "d.yaml:2:1: max_tokens: duplicate key 'max_tokens'");
}

TEST_CASE("config: wrong types name file:line:col, the key and the offending value") {
  TempDir dir;
  const auto path = dir.write("run.yaml", "sampling:\n  max_tokens: 1.5\n");
  CHECK(error_of([&] { Document::load_file(path).bind<Pipeline>(); }) ==
        path + ":2:15: sampling.max_tokens: expected an integer, got '1.5'");

  auto narrow_error = [](const std::string& yaml) {
    return error_of([&] { Document::load_string(yaml, "n.yaml").bind<Narrow>(); });
  };
  CHECK(narrow_error("count: abc\n") == "n.yaml:1:8: count: expected an integer, got 'abc'");
  CHECK(narrow_error("count: 3000000000\n") ==
        "n.yaml:1:8: count: integer 3000000000 is out of range [-2147483648, 2147483647]");
  CHECK(contains(narrow_error("count: -3000000000\n"), "out of range"));
  CHECK(contains(narrow_error("big: -1\n"), "n.yaml:1:6: big: integer -1 is out of range [0, "));
  CHECK(contains(narrow_error("big: 18446744073709551616\n"), "big: integer 18446744073709551616 is out of range"));
  CHECK(contains(narrow_error("wide: 1e3\n"), "wide: expected an integer, got '1e3'"));
  CHECK(narrow_error("count: [1, 2]\n") == "n.yaml:1:8: count: expected an integer, got a list");
  CHECK(narrow_error("flag: maybe\n") == "n.yaml:1:7: flag: expected true or false, got 'maybe'");
  CHECK(narrow_error("ratio: fast\n") == "n.yaml:1:8: ratio: expected a number, got 'fast'");
  CHECK(contains(narrow_error("ratio: 1e99\n"), "ratio: number 1e99 is out of range"));

  auto pipeline_error = [](const std::string& yaml) {
    return error_of([&] { Document::load_string(yaml, "p.yaml").bind<Pipeline>(); });
  };
  CHECK(pipeline_error("stages: [1, x, 3]\n") == "p.yaml:1:13: stages[1]: expected an integer, got 'x'");
  CHECK(pipeline_error("stages: 4\n") == "p.yaml:1:9: stages: expected a list, got '4'");
  CHECK(pipeline_error("sampling: 4\n") == "p.yaml:1:11: sampling: expected a map of settings, got '4'");
  CHECK(pipeline_error("weights: [1]\n") == "p.yaml:1:10: weights: expected a map, got a list");
  CHECK(pipeline_error("weights:\n  kl: high\n") == "p.yaml:2:7: weights.kl: expected a number, got 'high'");
  CHECK(pipeline_error("per_stage:\n  sft:\n    lr: x\n") == "p.yaml:3:9: per_stage.sft.lr: expected a number, got 'x'");
  CHECK(pipeline_error("per_stage:\n  sft:\n    lrr: 1\n") ==
        "p.yaml:3:5: per_stage.sft.lrr: unknown key 'per_stage.sft.lrr'; did you mean 'lr'?");
  CHECK(pipeline_error("name: [a]\n") == "p.yaml:1:7: name: expected a string, got a list");
  CHECK(pipeline_error("- 1\n- 2\n") == "p.yaml:1:1: expected a map of settings, got a list");
}

TEST_CASE("config: accepted spellings of numbers and booleans") {
  const auto n = Document::load_string("count: -42\nbig: 0x10\nwide: -9223372036854775808\nratio: 1e-4\nflag: yes\n",
                                       "n.yaml")
                     .bind<Narrow>();
  CHECK(n.count == -42);
  CHECK(n.big == 16);
  CHECK(n.wide == std::numeric_limits<std::int64_t>::min());
  CHECK(n.ratio == doctest::Approx(1e-4f));
  CHECK(n.flag);
  CHECK(std::isinf(Document::load_string("ratio: -.inf\n", "n.yaml").bind<Narrow>().ratio));
  CHECK(Document::load_string("count: +7\nflag: False\n", "n.yaml").bind<Narrow>().count == 7);
  CHECK(Document::load_string("count: \"12\"\n", "n.yaml").bind<Narrow>().count == 12);
}

TEST_CASE("config: check() failures name the key's location and the message") {
  TempDir dir;
  const auto path = dir.write("run.yaml", "sampling:\n  max_tokens: 4\n  temperature: -0.5\n");
  CHECK(error_of([&] { Document::load_file(path).bind<Pipeline>(); }) ==
        path + ":3:16: sampling.temperature: must be >= 0");

  // Through --set, the override is named instead.
  CHECK(error_of([&] { Document::load_file(path, {"sampling.temperature=-2"}).bind<Pipeline>(); }) ==
        "--set sampling.temperature=-2: sampling.temperature: must be >= 0");
}

TEST_CASE("config: --set overrides change values with their YAML meaning and round-trip") {
  TempDir dir;
  const auto path = dir.write("run.yaml", kPipelineYaml);
  const auto doc = Document::load_file(
      path, {"zero.lr=1e-4", "stages=[4,5]", "zero.use_ema=false", "name=from set", "weights.kl=0.1",
             "per_stage.rl.steps=9", "sampling={max_tokens: 2, temperature: 0}"});
  const auto cfg = doc.bind<Pipeline>();
  CHECK(cfg.zero.lr == doctest::Approx(1e-4));
  CHECK(cfg.zero.beta == doctest::Approx(0.95f));  // siblings untouched
  CHECK(cfg.stages == std::vector<int>{4, 5});
  CHECK_FALSE(cfg.zero.use_ema);
  CHECK(cfg.name == "from set");
  CHECK(cfg.weights.at("kl") == doctest::Approx(0.1));
  CHECK(cfg.weights.at("accuracy") == 1.0);
  CHECK(cfg.per_stage.at("rl").steps == 9);  // intermediate map created
  CHECK(cfg.per_stage.at("sft").lr == doctest::Approx(1e-5));
  CHECK(cfg.sampling == Sampling{0.0, 2});

  CHECK(doc.overrides().at("zero.lr") == "--set zero.lr=1e-4");
  CHECK(doc.overrides().at("per_stage.rl.steps") == "--set per_stage.rl.steps=9");

  const auto resolved = to_yaml(cfg);
  CHECK(contains(resolved, "lr: 1.0e-04\n"));
  CHECK(Document::load_string(resolved, "resolved.yaml").bind<Pipeline>() == cfg);

  // Overrides on an empty document create the maps they need; the later one wins.
  const auto fresh = Document::load_string("", "e.yaml", {"sampling.max_tokens=5", "sampling.max_tokens=6"});
  CHECK(fresh.bind<Pipeline>().sampling.max_tokens == 6);

  // A null section in the file becomes a map.
  CHECK(Document::load_string("zero:\n", "z.yaml", {"zero.steps=3"}).bind<Pipeline>().zero.steps == 3);
}

TEST_CASE("config: bad --set values and unknown --set keys name the --set text") {
  TempDir dir;
  const auto path = dir.write("run.yaml", kPipelineYaml);
  CHECK(error_of([&] { Document::load_file(path, {"sampling.max_tokens=abc"}).bind<Pipeline>(); }) ==
        "--set sampling.max_tokens=abc: sampling.max_tokens: expected an integer, got 'abc'");
  CHECK(error_of([&] { Document::load_file(path, {"zero.use_ema=maybe"}).bind<Pipeline>(); }) ==
        "--set zero.use_ema=maybe: zero.use_ema: expected true or false, got 'maybe'");
  CHECK(error_of([&] { Document::load_file(path, {"stages=[1, a]"}).bind<Pipeline>(); }) ==
        "--set stages=[1, a]: stages[1]: expected an integer, got 'a'");

  // Unknown key through --set: reported with the suggestion and the --set text.
  CHECK(error_of([&] { Document::load_file(path, {"sampling.temprature=0.5"}).bind<Pipeline>(); }) ==
        "--set sampling.temprature=0.5: sampling.temprature: unknown key 'sampling.temprature'; "
        "did you mean 'temperature'?");
  // ... also when the --set created the unknown section on its way.
  CHECK(error_of([&] { Document::load_file(path, {"smapling.temperature=0.5"}).bind<Pipeline>(); }) ==
        "--set smapling.temperature=0.5: smapling: unknown key 'smapling'; did you mean 'sampling'?");
  // ... and inside a flow map given to --set.
  CHECK(error_of([&] { Document::load_file(path, {"zero={lr: 1, betta: 2}"}).bind<Pipeline>(); }) ==
        "--set zero={lr: 1, betta: 2}: zero.betta: unknown key 'zero.betta'; did you mean 'beta'?");

  // Malformed --set text.
  CHECK(contains(error_of([&] { Document::load_file(path, {"zero.lr"}); }), "--set zero.lr: expected KEY=VALUE"));
  CHECK(contains(error_of([&] { Document::load_file(path, {"=1"}); }), "--set =1: empty key"));
  CHECK(contains(error_of([&] { Document::load_file(path, {"zero..lr=1"}); }), "--set zero..lr=1: "));
  CHECK(error_of([&] { Document::load_file(path, {"name.first=1"}); }) ==
        "--set name.first=1: 'name' is a scalar, not a map of settings");
  CHECK(error_of([&] { Document::load_file(path, {"stages.x=1"}); }) ==
        "--set stages.x=1: 'stages' is a list, not a map of settings");
  CHECK(contains(error_of([&] { Document::load_file(path, {"stages=[1, 2"}); }),
                 "--set stages=[1, 2: value is not valid YAML"));
}

TEST_CASE("config: syntax errors and missing files name the file") {
  TempDir dir;
  const auto path = dir.write("bad.yaml", "name: x\nsampling:\n  max_tokens: [1, 2\nzero: {}\n");
  const auto message = error_of([&] { Document::load_file(path); });
  CHECK(contains(message, path + ":"));
  CHECK(message == path + ":4:5: end of sequence flow not found");  // 1-based, at the token that broke it
  CHECK(message.find('\n') == std::string::npos);

  const auto tab = error_of([] { Document::load_string("a: 1\n b: 2\n", "tab.yaml"); });
  CHECK(tab == "tab.yaml:2:3: illegal map value");

  const auto missing = dir.path("nope.yaml");
  CHECK(error_of([&] { Document::load_file(missing); }) == missing + ": config file not found");
  CHECK(contains(error_of([&] { Document::load_file(dir.path("")); }), "is a directory"));
}

TEST_CASE("config: to_yaml round-trips through bind") {
  Pipeline original;
  original.name = "null";  // strings that YAML would otherwise read as something else
  original.sampling = {0.1, 77};
  original.zero = {1e-4, 0.3f, -5, std::numeric_limits<std::uint64_t>::max(), true};
  original.stages = {3, -1};
  original.sweeps = {{0.25, 1}, {2.5, 2}};
  original.weights = {{"accuracy", 1.0}, {"format", 1.0 / 3.0}};
  original.per_stage = {{"sft", {}}, {"rl", {2e-6, 0.99f, 1, 2, false}}};
  original.tags = {"", "true", "a: b", "line\nbreak", " padded ", "~", "123"};

  const auto text = to_yaml(original);
  const auto back = Document::load_string(text, "round.yaml").bind<Pipeline>();
  CHECK(back == original);
  CHECK(to_yaml(back) == text);
  CHECK(contains(text, "temperature: 0.1\n"));  // shortest spelling, not 0.10000000000000001

  CHECK(to_node(1.0).Scalar() == "1.0");
  CHECK(to_node(std::vector<int>{1, 2}).size() == 2);
  CHECK(to_node(Pipeline{})["zero"]["steps"].as<int>() == 100);
}

TEST_CASE("config: bind of a section, and binding leaves the document unchanged") {
  const auto doc = Document::load_string(kPipelineYaml, "s.yaml");
  const auto before = YAML::Dump(doc.root());
  const auto sampling = doc.bind<Sampling>("sampling");
  CHECK(sampling == Sampling{0.7, 256});
  CHECK(doc.bind<Optim>("per_stage.sft").lr == doctest::Approx(1e-5));
  CHECK(doc.bind<Optim>("per_stage.absent") == Optim{});
  // Required keys are still required when the section is absent.
  CHECK(contains(error_of([&] { doc.bind<Sampling>("nowhere"); }), "nowhere.max_tokens: missing required key"));
  CHECK(error_of([&] { doc.bind<Sampling>("name"); }) == "s.yaml:1:7: name: expected a map of settings, got 'grpo-run'");
  CHECK(error_of([&] { doc.bind<Sampling>("zero"); }) ==
        "s.yaml:6:3: zero.max_tokens: missing required key 'max_tokens'");
  CHECK(YAML::Dump(doc.root()) == before);
  CHECK(doc.bind<Pipeline>() == doc.bind<Pipeline>());
}

TEST_CASE("config: locate and closest_key") {
  using r1::config::closest_key;
  using r1::config::locate;
  CHECK(closest_key("temprature", {"max_tokens", "temperature"}) == "temperature");
  CHECK(closest_key("lrr", {"lr", "beta"}) == "lr");
  CHECK(closest_key("x", {"lr", "beta"}) == "");
  CHECK(closest_key("completely_different", {"temperature"}) == "");
  CHECK(closest_key("max_token", {}) == "");

  const auto doc = Document::load_string("a:\n  b: 1\n", "loc.yaml", {"c.d=2"});
  CHECK(locate(doc, doc.root()["a"]["b"], "a.b") == "loc.yaml:2:6: a.b");
  CHECK(locate(doc, YAML::Node(5), "a.b") == "loc.yaml:2:6: a.b");   // no mark: the nearest located node
  CHECK(locate(doc, YAML::Node(5), "a.zz") == "loc.yaml:2:3: a.zz");  // ... or its parent
  CHECK(locate(doc, YAML::Node(5), "c.d.e") == "--set c.d=2: c.d.e");
  CHECK(locate(doc, YAML::Node(5), "") == "loc.yaml:1:1");
  const auto programmatic = Document::load_string("", "p.yaml");
  CHECK(locate(programmatic, YAML::Node(5), "x.y") == "p.yaml: x.y");
}

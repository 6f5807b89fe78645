// The `shared_library` plug-in: a reward in a shared object loaded by path, spoken to through the
// C ABI of rewards/r1_reward_plugin.h.
//
// Decisions. Everything about the library is checked when the reward is built (from config, before
// any sampling): it loads, exports the entry symbol, speaks this ABI version, has a score function,
// and accepts its options; each failure is a UserError naming the path. The library is never
// unloaded: a call abandoned past the scoring time limit may still be running its code, and a
// process-lifetime handle costs nothing. The plug-in's state is destroyed with the Reward, which an
// abandoned call keeps alive (rewards/scoring.h), so destroy() never races a score().
#include <dlfcn.h>

#include <cmath>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "rewards/builtins.h"
#include "rewards/guard.h"
#include "rewards/plugin_protocol.h"
#include "rewards/r1_reward_plugin.h"

namespace r1::rewards {

namespace {

constexpr std::size_t kErrorBytes = 1024;

r1_reward_text text_view(const std::string& text) { return {text.c_str(), text.size()}; }

// The callbacks' side of one verdict: what score() reports lands here.
struct VerdictSink {
  RewardResult* result;
};

extern "C" void sink_add_component(void* host, const char* name, double value) {
  if (host == nullptr || name == nullptr) return;
  static_cast<VerdictSink*>(host)->result->components[name] = value;
}

extern "C" void sink_set_reason(void* host, const char* reason) {
  if (host == nullptr) return;
  static_cast<VerdictSink*>(host)->result->reason = reason == nullptr ? "" : reason;
}

class SharedLibraryReward : public Reward {
 public:
  SharedLibraryReward(std::string path, const r1_reward_plugin* plugin, void* state)
      : path_(std::move(path)), plugin_(plugin), state_(state) {}
  ~SharedLibraryReward() override {
    if (plugin_->destroy != nullptr) plugin_->destroy(state_);
  }
  SharedLibraryReward(const SharedLibraryReward&) = delete;
  SharedLibraryReward& operator=(const SharedLibraryReward&) = delete;

  std::string name() const override { return "shared_library"; }

  RewardResult score(const RewardInput& input) const override {
    const std::string metadata =
        metadata_object(input).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const r1_reward_item item{text_view(input.prompt), text_view(input.completion),
                              text_view(input.reference), text_view(metadata)};
    RewardResult result;
    VerdictSink sink{&result};
    r1_reward_verdict verdict{0.0, R1_REWARD_PASS, &sink, sink_add_component, sink_set_reason};
    const int status = plugin_->score(state_, &item, &verdict);
    const std::string who = "shared library " + path_;
    if (status != 0) {
      return failure_result(Failure::crash, who + " failed (returned " + std::to_string(status) + ")" +
                                                (result.reason.empty() ? "" : ": " + result.reason));
    }
    switch (verdict.outcome) {
      case R1_REWARD_PASS: result.outcome = Outcome::pass; break;
      case R1_REWARD_FAIL: result.outcome = Outcome::fail; break;
      case R1_REWARD_ERROR: result.outcome = Outcome::error; break;
      default:
        return failure_result(Failure::crash, who + " gave outcome " + std::to_string(verdict.outcome) +
                                                  "; the ABI knows 0 (pass), 1 (fail), 2 (error)");
    }
    // A non-finite score is caught by the guard around every call; the guard does not look at
    // components, which are the plug-in's own numbers and land in traces.
    for (const auto& [component, value] : result.components) {
      if (!std::isfinite(value)) {
        return failure_result(Failure::crash, who + " gave component " + component + " a non-finite value");
      }
    }
    result.score = verdict.score;
    return result;
  }

 private:
  std::string path_;
  const r1_reward_plugin* plugin_;  // static in the library, which is never unloaded
  void* state_;
};

std::unique_ptr<Reward> make_shared_library(const nlohmann::json& options) {
  check_option_keys("shared_library", options, {"path", "symbol", "options"});
  R1_CHECK(options.is_object() && options.contains("path") && options["path"].is_string() &&
               !options["path"].get<std::string>().empty(),
           "shared_library reward needs option path: the plug-in's .so file (rewards/r1_reward_plugin.h)");
  const std::string path = options["path"].get<std::string>();
  std::string symbol = R1_REWARD_PLUGIN_ENTRY;
  if (options.contains("symbol")) {
    R1_CHECK(options["symbol"].is_string() && !options["symbol"].get<std::string>().empty(),
             "shared_library option symbol must be a non-empty string, got ", options["symbol"].dump());
    symbol = options["symbol"].get<std::string>();
  }
  nlohmann::json plugin_options = nlohmann::json::object();
  if (options.contains("options")) {
    R1_CHECK(options["options"].is_object(), "shared_library option options must be a map, got ",
             options["options"].dump());
    plugin_options = options["options"];
  }

  // RTLD_LOCAL: two plug-ins may define the same internal names without clashing.
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = dlerror();
    R1_FAIL("shared_library reward: cannot load ", path, ": ", why == nullptr ? "unknown error" : why);
  }
  dlerror();  // clear, so that a null symbol value is told apart from a missing one
  void* entry_address = dlsym(library, symbol.c_str());
  if (const char* why = dlerror(); why != nullptr || entry_address == nullptr) {
    R1_FAIL("shared_library reward: ", path, " exports no function ", symbol,
            " (is it built against rewards/r1_reward_plugin.h?)");
  }
  const auto entry = reinterpret_cast<r1_reward_plugin_entry>(entry_address);
  const r1_reward_plugin* plugin = entry();
  R1_CHECK(plugin != nullptr, "shared_library reward: ", path, ": ", symbol,
           "() returned no plug-in (it cannot work here)");
  R1_CHECK(plugin->abi_version == R1_REWARD_PLUGIN_ABI_VERSION, "shared_library reward: ", path,
           " is built against plug-in ABI version ", plugin->abi_version, "; this r1 speaks version ",
           R1_REWARD_PLUGIN_ABI_VERSION, " (rebuild it against this r1's rewards/r1_reward_plugin.h)");
  R1_CHECK(plugin->score != nullptr, "shared_library reward: ", path, ": the plug-in has no score function");

  void* state = nullptr;
  if (plugin->create != nullptr) {
    char error[kErrorBytes] = {0};
    const std::string options_text = plugin_options.dump();
    state = plugin->create(options_text.c_str(), error, sizeof(error));
    error[sizeof(error) - 1] = '\0';  // whatever the plug-in wrote, the message ends here
    R1_CHECK(state != nullptr, "shared_library reward: ", path, " refused its options ", options_text, ": ",
             error[0] != '\0' ? error : "(no reason given)");
  }
  return std::make_unique<SharedLibraryReward>(path, plugin, state);
}

}  // namespace

RewardInfo shared_library_reward_info() {
  return {"shared_library",
          "scores with a shared library loaded by path, through the C ABI of rewards/r1_reward_plugin.h",
          make_shared_library,
          {{"path", "(required)",
            "the .so file; a path with a slash is a file, a bare name is searched like any library"},
           {"symbol", R1_REWARD_PLUGIN_ENTRY, "the exported function returning the plug-in's table"},
           {"options", "{}", "a map handed to the plug-in's create() as JSON text"}}};
}

}  // namespace r1::rewards

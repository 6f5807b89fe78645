// The built-in chat templates.
#include "policy/chat_template.h"

#include "common/error.h"

namespace r1::policy {

namespace {
// R1-Zero's instruction, from the DeepSeek-R1 paper (Table 1).
const char* kR1ZeroSystem =
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with "
    "the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> "
    "</answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here "
    "</answer>. ";
}  // namespace

const std::vector<std::string>& known_templates() {
  static const std::vector<std::string> names = {"r1_zero", "deepseek_r1", "chatml"};
  return names;
}

ChatTemplate::ChatTemplate(TemplateConfig config) : config_(std::move(config)) {
  const bool is_default = config_.system == "default";
  if (config_.name == "r1_zero") system_ = is_default ? kR1ZeroSystem : config_.system;
  else if (config_.name == "deepseek_r1" || config_.name == "chatml") system_ = is_default ? "" : config_.system;
  else R1_FAIL("unknown chat template '", config_.name, "'; known: r1_zero, deepseek_r1, chatml");
}

std::string ChatTemplate::render(const std::string& question) const {
  if (config_.name == "r1_zero") return system_ + "User: " + question + "\nAssistant: ";
  if (config_.name == "deepseek_r1") return system_ + "<｜User｜>" + question + "<｜Assistant｜><think>\n";
  std::string text;
  if (!system_.empty()) text += "<|im_start|>system\n" + system_ + "<|im_end|>\n";
  return text + "<|im_start|>user\n" + question + "<|im_end|>\n<|im_start|>assistant\n";
}

}  // namespace r1::policy

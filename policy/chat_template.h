// Chat templates: how a question becomes the text the model continues. Named in config; no general
// Jinja engine — the templates R1 work needs, written out.
#pragma once

#include <string>
#include <vector>

namespace r1::policy {

struct TemplateConfig {
  std::string name = "r1_zero";  // r1_zero | deepseek_r1 | chatml
  // System text placed before the conversation; "default" uses the template's own (for r1_zero,
  // the R1-Zero paper's instruction).
  std::string system = "default";

  template <class V>
  void visit(V& v) {
    v("name", name);
    v("system", system);
    v.check(name == "r1_zero" || name == "deepseek_r1" || name == "chatml", "name",
            "unknown template '" + name + "'; known: r1_zero, deepseek_r1, chatml");
  }
};

const std::vector<std::string>& known_templates();

class ChatTemplate {
 public:
  explicit ChatTemplate(TemplateConfig config);  // UserError for an unknown name
  // The prompt text for one user question, ending where the assistant's completion begins.
  std::string render(const std::string& question) const;
  const TemplateConfig& config() const { return config_; }

 private:
  TemplateConfig config_;
  std::string system_;
};

}  // namespace r1::policy

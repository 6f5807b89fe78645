// register_function: a reward that is one C++ function, registered under a name with no options.
#include <utility>

#include "common/error.h"
#include "rewards/builtins.h"
#include "rewards/registry.h"

namespace r1::rewards {

namespace {

class FunctionReward : public Reward {
 public:
  FunctionReward(std::string name, std::shared_ptr<const RewardFunction> function)
      : name_(std::move(name)), function_(std::move(function)) {}

  std::string name() const override { return name_; }
  RewardResult score(const RewardInput& input) const override { return (*function_)(input); }

 private:
  std::string name_;
  std::shared_ptr<const RewardFunction> function_;  // shared by every reward built from it
};

}  // namespace

bool register_function(const std::string& name, const std::string& description,
                       RewardFunction function, Registry& registry) {
  R1_CHECK(static_cast<bool>(function), "reward '", name, "' has no function");
  auto shared = std::make_shared<const RewardFunction>(std::move(function));
  registry.add(RewardInfo{name, description, [name, shared](const nlohmann::json& options) {
                            check_option_keys(name, options, {});
                            return std::unique_ptr<Reward>(std::make_unique<FunctionReward>(name, shared));
                          },
                          /*parameters=*/{}});
  return true;
}

}  // namespace r1::rewards

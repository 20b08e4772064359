// container.h: modules that hold other modules under the names "0", "1", ...: ModuleList (indexed
// access, e.g. a model's `layers`) and Sequential (UnaryModules applied in order).
#pragma once
#include <string>
#include <type_traits>
#include <vector>

#include "nn/module.h"

namespace nn {

class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  // Appends `m` under the next index and returns it.
  template <typename M> std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    register_module(std::to_string(size_), m);
    ++size_;
    return m;
  }
  size_t size() const { return size_; }
  // Element i cast to M (fetched from the registry, so replace_child("i", ...) takes effect).
  template <typename M = Module> std::shared_ptr<M> at(size_t i) const {
    check_index(i);
    return child<M>(std::to_string(i));
  }

 private:
  void check_index(size_t i) const;
  size_t size_ = 0;
};

class Sequential : public UnaryModule {
 public:
  Sequential() : UnaryModule("Sequential") {}
  explicit Sequential(const std::vector<std::shared_ptr<UnaryModule>>& layers);
  template <typename M> std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    static_assert(std::is_base_of_v<UnaryModule, M>, "Sequential holds UnaryModules");
    register_module(std::to_string(size_), m);
    ++size_;
    return m;
  }
  size_t size() const { return size_; }
  Variable forward(const Variable& x) override;

 private:
  size_t size_ = 0;
};

}  // namespace nn

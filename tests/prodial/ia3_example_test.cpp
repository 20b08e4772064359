// ia3_example_test.cpp: the worked example of docs/ADDING_A_PEFT_METHOD.md, compiled and checked, so
// the guide stays true. In the library the part between the markers would be the file
// prodial/methods/ia3.cpp, plus the line PM_PEFT_METHOD(ia3_method) in prodial/methods/method_list.h.
// Here, outside the library, the test registers it with register_method() instead, before main()
// runs, so the contract test (contract_test.cpp) also runs every check on "ia3".
#include <gtest/gtest.h>

// ---- begin: prodial/methods/ia3.cpp ----------------------------------------------------------------
// ia3.cpp: (IA)^3 (Liu et al. 2022): a learned vector l [d_out], ones at first, rescales what a
// projector outputs: y = l ⊙ (W x + b). Merge: W <- diag(l) W, b <- l ⊙ b. File key "ia3_l", as peft.
#include "autograd/ops.h"
#include "prodial/registry.h"
#include "prodial/tuner.h"
#include "tensor/ops.h"

namespace prodial {

namespace {

class Ia3Adapter : public Adapter {
 public:
  explicit Ia3Adapter(const AdapterRequest& req) : Adapter("IA3", "ia3", req.base) {
    register_parameter("ia3_l", tensor::ones({out_features()}, base()->weight().dtype()));
  }
  Variable forward(const Variable& x) override {
    return autograd::mul(base()->forward(x), local_parameter("ia3_l"));  // [..., d_out] * [d_out]
  }
  Tensor merged_weight() const override {
    const Tensor l = local_parameter("ia3_l").data();
    return tensor::mul(base()->weight().data(), l.reshape({l.size(0), 1}));  // row o scaled by l_o
  }
  Tensor merged_bias() const override {
    const auto b = base();
    return b->has_bias() ? tensor::mul(b->bias().data(), local_parameter("ia3_l").data()) : Tensor();
  }
};

}  // namespace

MethodSpec ia3_method() {
  MethodSpec m;
  m.name = "ia3";
  m.description = "(IA)^3: a learned output scale on out_proj";
  m.peft_type = "IA3";
  m.default_targets = [](ModelKind kind) { return projector_patterns(kind, {"out_proj"}); };
  m.make_adapter = [](const AdapterRequest& req) { return std::make_shared<Ia3Adapter>(req); };
  return m;
}

}  // namespace prodial
// ---- end: prodial/methods/ia3.cpp ------------------------------------------------------------------

#include "common/test_util.h"
#include "prodial_test_util.h"

namespace {

const bool ia3_registered = (prodial::register_method(prodial::ia3_method()), true);

TEST(Ia3Example, RegisteredAndCounted) {
  ASSERT_TRUE(ia3_registered);
  prodial_test::TinyModel m(prodial::ModelKind::LanguageModel, 1);
  auto s = prodial::apply_peft(m.module(), prodial::ModelKind::LanguageModel, "ia3", prodial::PeftOptions{});
  EXPECT_EQ(s.adapted.size(), 2u);              // out_proj of both layers
  EXPECT_EQ(s.trainable_params, 2 * 16);        // one d_model-sized vector each
  EXPECT_EQ(s.adapted[0].second, "IA3()");
  EXPECT_TRUE(pm_test::throws_with([] { prodial::register_method(prodial::ia3_method()); }, {"already registered"}));
}

}  // namespace

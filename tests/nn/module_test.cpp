// module_test.cpp: Module's registries and dotted names, enumeration, counts, train/eval, moves,
// state dicts (strict and non-strict reports), replacement of parameters and children, the summary
// tree, the containers, and every error message of these.
#include "nn/module.h"

#include "autograd/ops.h"
#include "common/test_util.h"
#include "nn/container.h"
#include "nn/dropout.h"
#include "nn/identity.h"
#include "nn/linear.h"
#include "nn/norm.h"

namespace {

using autograd::Variable;
using nn::Module;
using pm_test::throws_with;
using tensor::DType;
using tensor::Tensor;

// A small model with the shape of a real one: embedding-free "block" list, a norm and a head.
struct Block : nn::Module {
  Block(int64_t d, tensor::Generator* g) : Module("Block") {
    register_module("norm", std::make_shared<nn::RMSNorm>(d));
    register_module("proj", std::make_shared<nn::Linear>(d, d, true, g));
    register_parameter("D", tensor::ones({d}));
    register_buffer("count", tensor::zeros({1}, DType::Int64));
    register_buffer("scratch", tensor::zeros({2}), /*persistent=*/false);
  }
  Variable forward(const Variable& x) {
    Variable h = child<nn::UnaryModule>("norm")->forward(x);
    return autograd::add(x, autograd::mul(child<nn::UnaryModule>("proj")->forward(h), parameter("D")));
  }
};

struct Net : nn::Module {
  explicit Net(int64_t d = 4, int64_t n_layers = 2, uint64_t seed = 1) : Module("Net"), gen(seed) {
    auto layers = register_module("layers", std::make_shared<nn::ModuleList>());
    for (int64_t i = 0; i < n_layers; ++i) layers->push_back(std::make_shared<Block>(d, &gen));
    register_module("norm_f", std::make_shared<nn::RMSNorm>(d));
    register_module("head", std::make_shared<nn::Linear>(d, 3, false, &gen));
  }
  Variable forward(const Variable& x) {
    Variable h = x;
    auto layers = child<nn::ModuleList>("layers");
    for (size_t i = 0; i < layers->size(); ++i) h = layers->at<Block>(i)->forward(h);
    return child<nn::UnaryModule>("head")->forward(child<nn::UnaryModule>("norm_f")->forward(h));
  }
  tensor::Generator gen;
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Variable>>& v) {
  std::vector<std::string> out;
  for (const auto& kv : v) out.push_back(kv.first);
  return out;
}

TEST(Module, NamedParametersUseDottedNamesInRegistrationOrder) {
  Net net;
  std::vector<std::string> want = {"layers.0.D",           "layers.0.norm.weight", "layers.0.proj.weight",
                                   "layers.0.proj.bias",   "layers.1.D",           "layers.1.norm.weight",
                                   "layers.1.proj.weight", "layers.1.proj.bias",   "norm_f.weight",
                                   "head.weight"};
  EXPECT_EQ(names_of(net.named_parameters()), want);
  EXPECT_EQ(net.parameters().size(), want.size());
  EXPECT_EQ(net.parameter("layers.1.proj.weight").shape(), (tensor::Shape{4, 4}));
  EXPECT_TRUE(net.parameter("layers.1.proj.weight").requires_grad());
  EXPECT_TRUE(net.has_parameter("layers.0.D"));
  EXPECT_FALSE(net.has_parameter("layers.0.E"));
  EXPECT_FALSE(net.has_parameter("layers.7.D"));
  EXPECT_TRUE(net.has_child("layers.1.proj"));
  EXPECT_FALSE(net.has_child("layers.1.D"));
  EXPECT_TRUE(net.has_buffer("layers.1.count"));
  EXPECT_EQ(net.child("layers.1")->type_name(), "Block");
}

TEST(Module, BuffersPersistentAndNot) {
  Net net;
  auto all = net.named_buffers();
  auto persistent = net.named_buffers(true);
  ASSERT_EQ(all.size(), 4u);
  ASSERT_EQ(persistent.size(), 2u);
  EXPECT_EQ(persistent[0].first, "layers.0.count");
  EXPECT_EQ(net.buffer("layers.0.scratch").shape(), (tensor::Shape{2}));
  auto sd = net.state_dict();
  EXPECT_TRUE(sd.count("layers.0.count"));
  EXPECT_FALSE(sd.count("layers.0.scratch"));
  EXPECT_EQ(sd.size(), 10u + 2u);
}

TEST(Module, NamedModulesAndApply) {
  Net net;
  std::vector<std::string> names;
  for (auto& [n, m] : net.named_modules()) names.push_back(n + ":" + m->type_name());
  std::vector<std::string> want = {"layers:ModuleList", "layers.0:Block", "layers.0.norm:RMSNorm",
                                   "layers.0.proj:Linear", "layers.1:Block", "layers.1.norm:RMSNorm",
                                   "layers.1.proj:Linear", "norm_f:RMSNorm", "head:Linear"};
  EXPECT_EQ(names, want);
  int visited = 0;
  net.apply([&](const std::string& name, Module& m) {
    if (visited++ == 0) {
      EXPECT_EQ(name, "");
      EXPECT_EQ(m.type_name(), "Net");
    }
  });
  EXPECT_EQ(visited, 10);
  EXPECT_EQ(net.named_children().size(), 3u);
}

TEST(Module, ParameterCountsAndFreezing) {
  Net net;
  // per block: D 4 + norm 4 + proj 16 + 4 = 28; norm_f 4; head 12
  EXPECT_EQ(net.num_parameters(), 2 * 28 + 4 + 12);
  EXPECT_EQ(net.num_trainable_parameters(), net.num_parameters());
  net.child("layers")->requires_grad_(false);
  EXPECT_EQ(net.num_trainable_parameters(), 16);
  EXPECT_EQ(names_of(net.named_trainable_parameters()), (std::vector<std::string>{"norm_f.weight", "head.weight"}));
  EXPECT_EQ(net.trainable_parameters().size(), 2u);
}

TEST(Module, TrainEvalRecurses) {
  Net net;
  EXPECT_TRUE(net.is_training());
  net.eval();
  EXPECT_FALSE(net.is_training());
  EXPECT_FALSE(net.child("layers.1.proj")->is_training());
  net.child("layers")->train();
  EXPECT_TRUE(net.child("layers.0.norm")->is_training());
  EXPECT_FALSE(net.child("head")->is_training());
}

TEST(Module, ToDtypeKeepsVariablesAndIntegerBuffers) {
  Net net;
  Variable w = net.parameter("head.weight");
  Tensor before = w.data().clone();
  net.to(DType::Float64);
  EXPECT_TRUE(w.same(net.parameter("head.weight")));  // identity kept: optimizers stay valid
  EXPECT_EQ(w.dtype(), DType::Float64);
  EXPECT_TRUE(pm_test::tensors_close(w.data(), before.to(DType::Float64), 0, 0));
  EXPECT_EQ(net.buffer("layers.0.count").dtype(), DType::Int64);
  EXPECT_EQ(net.buffer("layers.0.scratch").dtype(), DType::Float64);
  Variable y = net.forward(Variable(tensor::randn({2, 4}, DType::Float64)));
  EXPECT_EQ(y.dtype(), DType::Float64);
}

TEST(Module, ToCpuIsANoOpAndCudaFailsCleanly) {
  Net net;
  Tensor before = net.parameter("head.weight").data();
  net.to(tensor::Device::cpu());
  EXPECT_EQ(net.parameter("head.weight").data().storage(), before.storage());
  if (!tensor::cuda_available()) {
    EXPECT_TRUE(throws_with([&] { net.to(tensor::Device::cuda(0)); }, {"CUDA"}));
    EXPECT_TRUE(net.parameter("head.weight").device().is_cpu());  // unchanged
  }
}

TEST(Module, ForwardAndBackwardThroughRegistry) {
  Net net;
  Variable y = net.forward(Variable(tensor::randn({2, 4})));
  autograd::sum(y).backward();
  for (auto& [n, p] : net.named_parameters()) EXPECT_TRUE(p.grad().defined()) << n;
}

TEST(Module, StateDictRoundTripIntoAFreshModel) {
  Net a(4, 2, 1), b(4, 2, 99);
  EXPECT_FALSE(tensor::allclose(a.parameter("head.weight").data(), b.parameter("head.weight").data()));
  auto sd = a.state_dict();
  for (auto& [n, t] : sd) t = t.clone();
  nn::StateDictReport r = b.load_state_dict(sd);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.str(), "ok");
  for (auto& [n, t] : a.state_dict()) EXPECT_TRUE(pm_test::tensors_close(b.state_dict().at(n), t, 0, 0)) << n;
  // In place: b's Variables are the same objects as before.
  Tensor x = tensor::randn({3, 4});
  EXPECT_TRUE(pm_test::tensors_close(a.forward(Variable(x)).data(), b.forward(Variable(x)).data(), 0, 0));
}

TEST(Module, LoadStateDictConvertsDtype) {
  Net a, b;
  auto sd = a.state_dict();
  std::map<std::string, Tensor> sd64;
  for (auto& [n, t] : sd) sd64[n] = tensor::is_floating(t.dtype()) ? t.to(DType::Float64) : t;
  b.load_state_dict(sd64);
  EXPECT_EQ(b.parameter("head.weight").dtype(), DType::Float32);
  EXPECT_TRUE(pm_test::tensors_close(b.parameter("head.weight").data(), a.parameter("head.weight").data(), 0, 0));
}

TEST(Module, StrictLoadListsMissingUnexpectedAndMismatchedKeys) {
  Net net;
  auto sd = net.state_dict();
  sd.erase("layers.1.proj.bias");
  sd.erase("norm_f.weight");
  sd["layers.1.proj.bais"] = tensor::zeros({4});
  sd["head.weight"] = tensor::zeros({4, 3});
  Tensor keep = net.parameter("layers.0.D").data().clone();
  sd["layers.0.D"] = tensor::full({4}, 7.0);
  EXPECT_TRUE(throws_with([&] { net.load_state_dict(sd); },
                          {"load_state_dict: the state dict does not match Net",
                           "missing keys: [layers.1.proj.bias, norm_f.weight]",
                           "unexpected keys: [layers.1.proj.bais]",
                           "shape mismatches: [head.weight: module [3, 4], given [4, 3]]"}));
  // Nothing was copied.
  EXPECT_TRUE(pm_test::tensors_close(net.parameter("layers.0.D").data(), keep, 0, 0));
}

TEST(Module, NonStrictLoadReportsAndLoadsTheRest) {
  Net net;
  auto sd = net.state_dict();
  for (auto& [n, t] : sd) t = t.clone();
  sd.erase("head.weight");
  sd["extra.thing"] = tensor::zeros({1});
  sd["layers.0.D"] = tensor::full({4}, 7.0);
  nn::StateDictReport r = net.load_state_dict(sd, /*strict=*/false);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.missing, (std::vector<std::string>{"head.weight"}));
  EXPECT_EQ(r.unexpected, (std::vector<std::string>{"extra.thing"}));
  EXPECT_TRUE(r.mismatched.empty());
  EXPECT_EQ(r.str(), "missing keys: [head.weight]; unexpected keys: [extra.thing]");
  EXPECT_DOUBLE_EQ(net.parameter("layers.0.D").data().at({2}), 7.0);
}

TEST(Module, NonStrictLoadStillRefusesShapeMismatches) {
  Net net;
  auto sd = net.state_dict();
  sd["layers.0.norm.weight"] = tensor::zeros({5});
  EXPECT_TRUE(throws_with([&] { net.load_state_dict(sd, false); },
                          {"shape mismatches: [layers.0.norm.weight: module [4], given [5]]"}));
  sd["layers.0.norm.weight"] = Tensor();
  EXPECT_TRUE(throws_with([&] { net.load_state_dict(sd, false); }, {"layers.0.norm.weight: module [4], given []"}));
}

TEST(Module, SetParameterReplacesTheVariableUsedByForward) {
  Net net;
  Variable frozen(tensor::zeros({3, 4}), false);
  net.set_parameter("head.weight", frozen);
  EXPECT_TRUE(net.parameter("head.weight").same(frozen));
  Variable y = net.forward(Variable(tensor::randn({2, 4})));
  EXPECT_TRUE(pm_test::tensors_close(y.data(), tensor::zeros({2, 3}), 0, 0));
  EXPECT_EQ(net.num_trainable_parameters(), net.num_parameters() - 12);
}

TEST(Module, SetParameterErrors) {
  Net net;
  EXPECT_TRUE(throws_with([&] { net.set_parameter("head.wieght", Variable(tensor::zeros({3, 4}))); },
                          {"Module::set_parameter: no parameter 'head.wieght' in Net"}));
  EXPECT_TRUE(throws_with([&] { net.set_parameter("body.weight", Variable(tensor::zeros({3, 4}))); },
                          {"Module::set_parameter: no child module 'body' in Net (looking up 'body.weight')"}));
  EXPECT_TRUE(throws_with([&] { net.set_parameter("head.weight", Variable(tensor::zeros({4, 3}))); },
                          {"Module::set_parameter: 'head.weight' has shape [3, 4], the replacement [4, 3]"}));
  EXPECT_TRUE(throws_with([&] { net.set_parameter("head.weight", Variable()); },
                          {"the replacement for 'head.weight' is undefined"}));
}

TEST(Module, SetBufferAndErrors) {
  Net net;
  net.set_buffer("layers.1.count", tensor::full({1}, 5, DType::Int64));
  EXPECT_EQ(net.buffer("layers.1.count").item<int64_t>(), 5);
  EXPECT_TRUE(throws_with([&] { net.set_buffer("layers.1.count", tensor::zeros({2}, DType::Int64)); },
                          {"Module::set_buffer: 'layers.1.count' has shape [1], the replacement [2]"}));
  EXPECT_TRUE(throws_with([&] { net.set_buffer("layers.1.cnt", tensor::zeros({1})); },
                          {"Module::set_buffer: no buffer 'layers.1.cnt' in Net"}));
}

// A stand-in for a PEFT wrapper: holds the original Linear and adds a constant.
struct Shifted : nn::UnaryModule {
  explicit Shifted(std::shared_ptr<nn::UnaryModule> base) : UnaryModule("Shifted") { register_module("base", base); }
  Variable forward(const Variable& x) override {
    return autograd::add(child<nn::UnaryModule>("base")->forward(x), 100.0);
  }
};

TEST(Module, ReplaceChildTakesEffectAndRenamesParameters) {
  Net net;
  Tensor x = tensor::randn({2, 4});
  Tensor before = net.forward(Variable(x)).data();
  auto head = net.child<nn::UnaryModule>("head");
  net.replace_child("head", std::make_shared<Shifted>(head));
  Tensor after = net.forward(Variable(x)).data();
  EXPECT_TRUE(pm_test::tensors_close(after, tensor::add(before, 100.0)));
  EXPECT_TRUE(net.has_parameter("head.base.weight"));
  EXPECT_FALSE(net.has_parameter("head.weight"));
  // Deep replacement by dotted name.
  net.replace_child("layers.1.norm", std::make_shared<nn::Identity>());
  EXPECT_EQ(net.child("layers.1.norm")->type_name(), "Identity");
  EXPECT_FALSE(net.has_parameter("layers.1.norm.weight"));
}

TEST(Module, ReplaceChildAndLookupErrors) {
  Net net;
  EXPECT_TRUE(throws_with([&] { net.replace_child("layers.5", std::make_shared<nn::Identity>()); },
                          {"Module::replace_child: no child 'layers.5' in Net"}));
  EXPECT_TRUE(throws_with([&] { net.replace_child("head", nullptr); },
                          {"Module::replace_child: the replacement for 'head' is null"}));
  EXPECT_TRUE(throws_with([&] { net.child("layers.0.proj.weight"); },
                          {"Module::child: no child 'layers.0.proj.weight' in Net"}));
  EXPECT_TRUE(throws_with([&] { net.child("nope"); }, {"Module::child: no child 'nope' in Net"}));
  EXPECT_TRUE(throws_with([&] { net.parameter("head.bias"); }, {"Module::parameter: no parameter 'head.bias' in Net"}));
  EXPECT_TRUE(throws_with([&] { net.buffer("layers.0.D"); }, {"Module::buffer: no buffer 'layers.0.D' in Net"}));
  EXPECT_TRUE(throws_with([&] { net.child<nn::Linear>("norm_f"); },
                          {"Module::child: 'norm_f' in Net is a RMSNorm, not the module type asked for"}));
}

TEST(Module, RegistrationErrors) {
  Module m("Custom");
  m.register_parameter("w", tensor::zeros({2}));
  EXPECT_TRUE(throws_with([&] { m.register_parameter("w", tensor::zeros({2})); },
                          {"Module::register_parameter: 'w' is already registered in Custom"}));
  EXPECT_TRUE(throws_with([&] { m.register_buffer("w", tensor::zeros({2})); },
                          {"Module::register_buffer: 'w' is already registered in Custom"}));
  EXPECT_TRUE(throws_with([&] { m.register_module("w", std::make_shared<nn::Identity>()); },
                          {"Module::register_module: 'w' is already registered in Custom"}));
  EXPECT_TRUE(throws_with([&] { m.register_parameter("a.b", tensor::zeros({2})); },
                          {"Module::register_parameter: name 'a.b' must be non-empty and contain no '.'"}));
  EXPECT_TRUE(throws_with([&] { m.register_buffer("", tensor::zeros({2})); },
                          {"Module::register_buffer: name '' must be non-empty"}));
  EXPECT_TRUE(throws_with([&] { m.register_module("c", std::shared_ptr<nn::Identity>()); },
                          {"Module::register_module: 'c' is null"}));
  EXPECT_TRUE(throws_with([&] { m.register_parameter("i", tensor::zeros({2}, DType::Int64)); },
                          {"set_requires_grad: only float tensors can require grad"}));
  EXPECT_TRUE(throws_with([&] { m.register_parameter("u", Tensor()); }, {"Module::register_parameter"}));
  EXPECT_TRUE(throws_with([&] { m.register_parameter("v", Variable()); },
                          {"Module::register_parameter: 'v' is undefined"}));
  // A frozen integer parameter is allowed (e.g. a lookup table held as a parameter).
  m.register_parameter("idx", tensor::zeros({2}, DType::Int64), false);
  EXPECT_FALSE(m.parameter("idx").requires_grad());
}

TEST(Module, TiedWeightsAppearOnceExceptInTheStateDict) {
  // An LM head sharing the embedding's weight.
  Module m("Tied");
  auto emb = m.register_module("embedding", std::make_shared<nn::Linear>(3, 5, false));
  auto head = m.register_module("lm_head", std::make_shared<nn::Linear>(3, 5, false));
  head->set_parameter("weight", emb->weight());
  EXPECT_TRUE(m.parameter("lm_head.weight").same(m.parameter("embedding.weight")));
  EXPECT_EQ(names_of(m.named_parameters()), (std::vector<std::string>{"embedding.weight"}));
  EXPECT_EQ(m.num_parameters(), 15);
  auto sd = m.state_dict();
  EXPECT_EQ(sd.size(), 2u);
  EXPECT_EQ(sd.at("lm_head.weight").storage(), sd.at("embedding.weight").storage());
  sd = {{"embedding.weight", tensor::full({5, 3}, 2.0)}, {"lm_head.weight", tensor::full({5, 3}, 2.0)}};
  m.load_state_dict(sd);
  EXPECT_EQ(head->weight().data().at({4, 2}), 2.0);
  Variable w(tensor::ones({2, 2}), true);
  m.register_parameter("a", w);
  EXPECT_TRUE(m.parameter("a").same(w));
}

TEST(Module, SummaryTree) {
  Net net(4, 1);
  net.child("layers.0.proj")->requires_grad_(false);
  std::string s = net.summary();
  std::string want =
      "Net: 44 parameters (24 trainable)\n"
      "  layers: ModuleList  [28 params, 8 trainable]\n"
      "    0: Block  [28 params, 8 trainable]\n"
      "      D [4] float32\n"
      "      count [1] int64 (buffer)\n"
      "      scratch [2] float32 (buffer)\n"
      "      norm: RMSNorm(4, eps=1e-05)  [4 params]\n"
      "        weight [4] float32\n"
      "      proj: Linear(in_features=4, out_features=4, bias=true)  [20 params, 0 trainable]\n"
      "        weight [4, 4] float32 (frozen)\n"
      "        bias [4] float32 (frozen)\n"
      "  norm_f: RMSNorm(4, eps=1e-05)  [4 params]\n"
      "    weight [4] float32\n"
      "  head: Linear(in_features=4, out_features=3, bias=false)  [12 params]\n"
      "    weight [3, 4] float32\n";
  EXPECT_EQ(s, want);
}

TEST(Containers, SequentialRunsInOrderAndModuleListBounds) {
  tensor::Generator g(3);
  auto l1 = std::make_shared<nn::Linear>(3, 5, true, &g);
  auto l2 = std::make_shared<nn::Linear>(5, 2, true, &g);
  nn::Sequential seq({l1, std::make_shared<nn::Identity>(), l2});
  EXPECT_EQ(seq.size(), 3u);
  Variable x(tensor::randn({4, 3}, DType::Float32, &g));
  Tensor want = l2->forward(l1->forward(x)).data();
  EXPECT_TRUE(pm_test::tensors_close(seq(x).data(), want, 0, 0));
  EXPECT_EQ(names_of(seq.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));

  nn::ModuleList list;
  list.push_back(std::make_shared<nn::Identity>());
  EXPECT_EQ(list.at(0)->type_name(), "Identity");
  EXPECT_TRUE(throws_with([&] { list.at(1); }, {"ModuleList::at: index 1 out of range for 1 modules"}));
}

}  // namespace

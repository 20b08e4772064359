// files_test.cpp: adapter directories (peft's layout): what adapter_config.json and the tensor keys
// hold per method, adapters that do not fit the model (one-line errors naming file and tensor, the
// model left as it was), unsupported peft settings, and a merged model exported as a plain model
// directory that loads without any adapter code.
#include <gtest/gtest.h>

#include <filesystem>

#include "autograd/grad_mode.h"
#include "common/test_util.h"
#include "mamba/checkpoint.h"
#include "nn/safetensors.h"
#include "prodial/adapter_files.h"
#include "prodial/tuner.h"
#include "prodial_test_util.h"

namespace {

using mamba_test::rel_err;
using mamba_test::TempDir;
using pm_test::throws_with;
using prodial_test::ModelKind;
using prodial_test::TinyModel;

TEST(AdapterFiles, ProdialConfigAndKeys) {
  TinyModel m(ModelKind::LanguageModel, 1);
  auto o = prodial_test::small_options();
  auto s = prodial::apply_peft(m.module(), ModelKind::LanguageModel, "prodial", o);
  TempDir dir("files_prodial");
  prodial::save_adapter(m.module(), s, o, dir.path(), "state-spaces/mamba-130m-hf");
  const auto j = mamba::read_json_file(dir / "adapter_config.json");
  EXPECT_EQ(j["peft_type"], "PRODIAL");
  EXPECT_EQ(j["method"], "prodial");
  EXPECT_EQ(j["task_type"], "CAUSAL_LM");
  EXPECT_EQ(j["r"], 2);
  EXPECT_EQ(j["lora_alpha"], 4.0);
  EXPECT_EQ(j["lora_dropout"], 0.1);
  EXPECT_EQ(j["rb_in"], 4);
  EXPECT_EQ(j["rb_out"], 0);
  EXPECT_EQ(j["diag_mode"], "frozen");
  EXPECT_EQ(j["base_model_name_or_path"], "state-spaces/mamba-130m-hf");
  EXPECT_EQ(j["target_modules"], nlohmann::json({"in_proj", "out_proj"}));
  nn::SafetensorsFile f(dir / "adapter_model.safetensors");
  const std::string k = "base_model.model.backbone.layers.1.mixer.in_proj.";
  EXPECT_EQ(f.shape(k + "prodial_R"), (tensor::Shape{4, 4, 4}));
  EXPECT_EQ(f.shape(k + "prodial_s"), (tensor::Shape{64}));
  EXPECT_EQ(f.shape(k + "lora_A.weight"), (tensor::Shape{2, 16}));
  EXPECT_EQ(f.shape(k + "lora_B.weight"), (tensor::Shape{64, 2}));
  EXPECT_EQ(f.size(), 16u);  // 4 tensors x 4 projectors; nothing of the base
  EXPECT_FALSE(std::filesystem::exists(dir / "adapter_config.json.tmp"));
}

TEST(AdapterFiles, LayerSubsetWritesFullNamesAndVimHeadIsSaved) {
  TinyModel m(ModelKind::Vision, 1);
  auto o = prodial_test::small_options();
  o.layers = {1};
  auto s = prodial::apply_peft(m.module(), ModelKind::Vision, "dora", o);
  TempDir dir("files_dora_vim");
  prodial::save_adapter(m.module(), s, o, dir.path());
  const auto j = mamba::read_json_file(dir / "adapter_config.json");
  EXPECT_EQ(j["peft_type"], "LORA");
  EXPECT_TRUE(j["use_dora"].get<bool>());
  EXPECT_FALSE(j.contains("method"));  // peft's LoraConfig gets only its own fields
  EXPECT_TRUE(j["task_type"].is_null());
  EXPECT_EQ(j["target_modules"], nlohmann::json({"layers.1.mixer.in_proj", "layers.1.mixer.out_proj"}));
  nn::SafetensorsFile f(dir / "adapter_model.safetensors");
  EXPECT_EQ(f.shape("base_model.model.layers.1.mixer.out_proj.lora_magnitude_vector"), (tensor::Shape{16}));
  EXPECT_TRUE(f.contains("base_model.model.head.weight"));
  EXPECT_TRUE(f.contains("base_model.model.head.bias"));
  EXPECT_EQ(f.size(), 2u * 3u + 2u);
}

TEST(AdapterFiles, SelectiveMethodsSaveTheirTensorsByName) {
  TinyModel m(ModelKind::LanguageModel, 1);
  prodial::PeftOptions o;
  o.layers = {0};
  auto s = prodial::apply_peft(m.module(), ModelKind::LanguageModel, "ssm", o);
  TempDir dir("files_ssm");
  prodial::save_adapter(m.module(), s, o, dir.path());
  const auto j = mamba::read_json_file(dir / "adapter_config.json");
  EXPECT_EQ(j["peft_type"], "SELECTIVE");
  EXPECT_EQ(j["method"], "ssm");
  EXPECT_EQ(j["layers_to_transform"], nlohmann::json({0}));
  nn::SafetensorsFile f(dir / "adapter_model.safetensors");
  std::vector<std::string> expected;
  for (const char* n : {"A_log", "D", "dt_proj.bias", "dt_proj.weight", "x_proj.weight"})
    expected.push_back(std::string("base_model.model.backbone.layers.0.mixer.") + n);
  EXPECT_EQ(f.names(), expected);
}

// A file that does not fit: each error is one line naming the file and the tensor, and the model is
// left exactly as it was (no adapters, all parameters trainable as before).
TEST(AdapterFiles, AdapterThatDoesNotFitTheModel) {
  TinyModel small(ModelKind::LanguageModel, 1);
  auto o = prodial_test::small_options();
  auto s = prodial::apply_peft(small.module(), ModelKind::LanguageModel, "lora", o);
  TempDir dir("files_misfit");
  prodial::save_adapter(small.module(), s, o, dir.path());
  const std::string st = dir / "adapter_model.safetensors";

  auto wider_cfg = mamba_test::tiny_lm();
  wider_cfg.d_model = 24;
  wider_cfg.d_inner = 0;
  auto check_untouched = [](nn::Module& m) {
    EXPECT_TRUE(prodial::find_adapters(m).empty());
    EXPECT_EQ(m.num_trainable_parameters(), m.num_parameters());
  };
  {
    mamba::MambaLM wider(wider_cfg);
    EXPECT_TRUE(throws_with([&] { prodial::load_adapter(wider, ModelKind::LanguageModel, dir.path()); },
                            {st, "lora_A.weight", "[2, 16]", "[2, 24]"}));
    check_untouched(wider);
  }
  // a tensor the model has no place for
  auto tensors = nn::load_safetensors(st);
  tensors["base_model.model.backbone.layers.7.mixer.in_proj.lora_A.weight"] = tensor::zeros({2, 16});
  nn::save_safetensors(st, tensors);
  {
    TinyModel m(ModelKind::LanguageModel, 1);
    EXPECT_TRUE(throws_with([&] { prodial::load_adapter(m.module(), ModelKind::LanguageModel, dir.path()); },
                            {st, "layers.7.mixer.in_proj.lora_A.weight", "matches no adapter or parameter"}));
    check_untouched(m.module());
  }
  // a missing tensor
  tensors.erase("base_model.model.backbone.layers.7.mixer.in_proj.lora_A.weight");
  tensors.erase("base_model.model.backbone.layers.1.mixer.out_proj.lora_B.weight");
  nn::save_safetensors(st, tensors);
  {
    TinyModel m(ModelKind::LanguageModel, 1);
    EXPECT_TRUE(throws_with([&] { prodial::load_adapter(m.module(), ModelKind::LanguageModel, dir.path()); },
                            {st, "backbone.layers.1.mixer.out_proj", "missing tensor lora_B.weight"}));
    check_untouched(m.module());
  }
  // targets the model does not have
  auto j = mamba::read_json_file(dir / "adapter_config.json");
  j["target_modules"] = {"q_proj", "v_proj"};
  mamba::write_json_file(dir / "adapter_config.json", j);
  {
    TinyModel m(ModelKind::LanguageModel, 1);
    EXPECT_TRUE(throws_with([&] { prodial::load_adapter(m.module(), ModelKind::LanguageModel, dir.path()); },
                            {dir / "adapter_config.json", "does not fit", "'q_proj'"}));
    check_untouched(m.module());
  }
  // peft settings we do not implement
  j["target_modules"] = {"in_proj"};
  j["use_rslora"] = true;
  mamba::write_json_file(dir / "adapter_config.json", j);
  TinyModel m(ModelKind::LanguageModel, 1);
  EXPECT_TRUE(throws_with([&] { prodial::load_adapter(m.module(), ModelKind::LanguageModel, dir.path()); },
                          {"adapter_config.json", "use_rslora"}));
  j["use_rslora"] = false;
  j["peft_type"] = "ADALORA";
  mamba::write_json_file(dir / "adapter_config.json", j);
  EXPECT_TRUE(throws_with([&] { prodial::load_adapter(m.module(), ModelKind::LanguageModel, dir.path()); },
                          {"adapter_config.json", "ADALORA"}));
  EXPECT_TRUE(throws_with([&] { prodial::load_adapter(m.module(), ModelKind::LanguageModel, dir / "nowhere"); },
                          {"nowhere", "does not exist"}));
  check_untouched(m.module());
}

// merge_peft + the model's own checkpoint writer: a plain model directory (HF layout for the LM, Vim's
// for Vision Mamba) that the ordinary loaders read back with no adapter involved.
TEST(AdapterFiles, MergedModelExportsAsPlainCheckpoint) {
  for (ModelKind kind : {ModelKind::LanguageModel, ModelKind::Vision}) {
    TinyModel m(kind, 4, tensor::DType::Float32);
    prodial::apply_peft(m.module(), kind, "prodial", prodial_test::small_options());
    tensor::Generator g(8);
    for (auto& [n, v] : m.module().named_trainable_parameters())
      v.set_data(tensor::add(v.data(), tensor::randn(v.shape(), v.dtype(), &g, 0.0, 0.05)));
    m.module().eval();
    autograd::NoGradGuard ng;
    const tensor::Tensor y = m.forward().data();
    ASSERT_EQ(prodial::merge_peft(m.module()), 4);
    TempDir dir(kind == ModelKind::Vision ? "export_vim" : "export_lm");
    tensor::Tensor y2;
    if (kind == ModelKind::LanguageModel) {
      mamba::save_mamba_lm(*m.lm, dir.path());
      y2 = mamba::load_mamba_lm(dir.path())->forward(m.input).data();
    } else {
      mamba::save_vision_mamba(*m.vim, dir.path());
      auto vim = mamba::load_vision_mamba(dir.path());
      vim->eval();
      y2 = vim->forward(autograd::Variable(m.input)).data();
    }
    EXPECT_LE(rel_err(y2, y), 1e-5);
  }
}

}  // namespace

// checkpoint_test.cpp: model directories: our HF-layout save reloads bit for bit (config.json with HF's
// field names, lm_head absent when tied, the unpadded vocabulary kept in the metadata), the original
// mamba_ssm layout (embedding key renamed both ways), the Vim layout, sharded weights, layout
// detection and load_model, and the errors. With PM_MAMBA_EXPORT_DIR set, the HF round-trip test also
// writes its directory there with reference_logits.safetensors, for tests/reference/check_hf_load.py.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "autograd/ops.h"
#include "common/test_util.h"
#include "mamba/api.h"
#include "mamba_test_util.h"
#include "nn/safetensors.h"

namespace {
namespace fs = std::filesystem;
using autograd::Variable;
using json = nlohmann::json;
using mamba_test::TempDir;
using tensor::DType;
using tensor::Tensor;

std::shared_ptr<mamba::MambaLM> random_lm(int64_t vocab, uint64_t seed) {
  tensor::Generator g(seed);
  auto lm = std::make_shared<mamba::MambaLM>(mamba_test::tiny_lm(vocab), &g);
  for (auto& [name, p] : lm->named_parameters()) tensor::add_(p.data(), tensor::randn(p.shape(), DType::Float32, &g), 0.05);
  return lm;
}

void expect_same_state(const nn::Module& a, const nn::Module& b) {
  auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [k, v] : sa) {
    ASSERT_TRUE(sb.count(k)) << k;
    EXPECT_TRUE(pm_test::tensors_close(v, sb.at(k), 0, 0)) << k;
  }
}

TEST(MambaCheckpoint, HFRoundTrip) {
  auto lm = random_lm(60, 1);
  TempDir tmp("hf");
  const std::string dir = tmp / "model";
  mamba::save_mamba_lm(*lm, dir);
  // HF's field names and no lm_head (tied), the padded vocabulary in the config, ours in the metadata
  json cfg = mamba::read_json_file(dir + "/config.json");
  EXPECT_EQ(cfg["model_type"], "mamba");
  EXPECT_EQ(cfg["architectures"], json::array({"MambaForCausalLM"}));
  EXPECT_EQ(cfg["vocab_size"], 64);
  EXPECT_EQ(cfg["hidden_size"], 16);
  EXPECT_EQ(cfg["state_size"], 8);
  EXPECT_EQ(cfg["conv_kernel"], 3);
  EXPECT_EQ(cfg["time_step_rank"], 3);
  EXPECT_EQ(cfg["use_bias"], false);
  EXPECT_EQ(cfg["tie_word_embeddings"], true);
  nn::SafetensorsFile st(dir + "/model.safetensors");
  EXPECT_FALSE(st.contains("lm_head.weight"));
  EXPECT_TRUE(st.contains("backbone.embeddings.weight"));
  EXPECT_TRUE(st.contains("backbone.layers.1.mixer.A_log"));
  EXPECT_EQ(st.size(), 2u + 2u * 10u);
  EXPECT_EQ(st.metadata().at("format"), "pt");
  EXPECT_EQ(st.metadata().at("pm_vocab_size"), "60");
  EXPECT_EQ(mamba::detect_layout(dir), mamba::CheckpointLayout::HuggingFace);

  auto back = mamba::load_mamba_lm(dir);
  EXPECT_EQ(back->config().vocab_size, 60);
  EXPECT_TRUE(back->tied());
  expect_same_state(*lm, *back);
  tensor::Generator g(2);
  Tensor ids = tensor::randint(0, 60, {2, 9}, &g);
  autograd::NoGradGuard ng;
  Tensor logits = lm->forward(ids).data();
  EXPECT_TRUE(pm_test::tensors_close(back->forward(ids).data(), logits, 0, 0));

  if (const char* out = std::getenv("PM_MAMBA_EXPORT_DIR")) {  // for tests/reference/check_hf_load.py
    mamba::save_mamba_lm(*lm, out);
    nn::save_safetensors(std::string(out) + "/reference_logits.safetensors", {{"input_ids", ids}, {"logits", logits}},
                         {{"source", "tests/mamba/checkpoint_test.cpp MambaCheckpoint.HFRoundTrip"}});
  }
}

TEST(MambaCheckpoint, HFUntiedAndFloat64) {
  mamba::MambaConfig c = mamba_test::tiny_lm(64);
  c.tie_embeddings = false;
  tensor::Generator g(3);
  mamba::MambaLM lm(c, &g, DType::Float64);
  TempDir tmp("hf_untied");
  mamba::save_mamba_lm(lm, tmp.path());
  nn::SafetensorsFile st(tmp / "model.safetensors");
  EXPECT_TRUE(st.contains("lm_head.weight"));
  EXPECT_EQ(st.entry("lm_head.weight").dtype, "F64");
  EXPECT_FALSE(st.metadata().count("pm_vocab_size"));
  auto back = mamba::load_mamba_lm(tmp.path(), DType::Float64);
  EXPECT_FALSE(back->tied());
  expect_same_state(lm, *back);
  // the config says untied but the weights lack the head
  auto state = nn::load_safetensors(tmp / "model.safetensors");
  state.erase("lm_head.weight");
  nn::save_safetensors(tmp / "model.safetensors", state);
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::load_mamba_lm(tmp.path()); }, {tmp.path(), "not tied", "lm_head.weight"}));
}

TEST(MambaCheckpoint, MambaSSMLayout) {
  auto lm = random_lm(64, 4);
  TempDir tmp("ssm");
  mamba::save_mamba_lm(*lm, tmp.path(), mamba::CheckpointLayout::MambaSSM);
  json cfg = mamba::read_json_file(tmp / "config.json");
  EXPECT_EQ(cfg["d_model"], 16);
  EXPECT_EQ(cfg["ssm_cfg"]["d_state"], 8);
  nn::SafetensorsFile st(tmp / "model.safetensors");
  EXPECT_TRUE(st.contains("backbone.embedding.weight"));
  EXPECT_FALSE(st.contains("backbone.embeddings.weight"));
  EXPECT_TRUE(st.contains("lm_head.weight"));  // mamba_ssm's loader wants the tied alias
  EXPECT_EQ(mamba::detect_layout(tmp.path()), mamba::CheckpointLayout::MambaSSM);
  auto back = mamba::load_mamba_lm(tmp.path());
  EXPECT_TRUE(back->tied());
  expect_same_state(*lm, *back);
  // an original checkpoint without the lm_head alias loads too
  auto state = nn::load_safetensors(tmp / "model.safetensors");
  state.erase("lm_head.weight");
  nn::save_safetensors(tmp / "model.safetensors", state);
  expect_same_state(*lm, *mamba::load_mamba_lm(tmp.path()));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::save_mamba_lm(*lm, tmp.path(), mamba::CheckpointLayout::Vim); },
                                   {"save_mamba_lm", "Vim layout"}));
}

TEST(MambaCheckpoint, VimLayout) {
  tensor::Generator g(5);
  mamba::VisionMamba vim(mamba::vim_preset("vim-test"), &g);
  TempDir tmp("vim");
  mamba::save_vision_mamba(vim, tmp.path());
  nn::SafetensorsFile st(tmp / "model.safetensors");
  for (const char* k : {"patch_embed.proj.weight", "cls_token", "pos_embed", "layers.0.mixer.A_b_log",
                        "layers.1.mixer.x_proj_b.weight", "layers.1.mixer.D_b", "norm_f.weight", "head.bias"})
    EXPECT_TRUE(st.contains(k)) << k;
  EXPECT_EQ(mamba::read_json_file(tmp / "config.json")["model_type"], "vim");
  auto back = mamba::load_vision_mamba(tmp.path());
  expect_same_state(vim, *back);
  mamba::LoadedModel m = mamba::load_model(tmp.path());
  EXPECT_EQ(m.layout, mamba::CheckpointLayout::Vim);
  EXPECT_TRUE(m.vim && !m.lm);
  EXPECT_STREQ(mamba::layout_name(m.layout), "vim");
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::load_mamba_lm(tmp.path()); }, {"Vim directory, not a Mamba language model"}));
}

TEST(MambaCheckpoint, ShardedWeights) {
  auto lm = random_lm(64, 6);
  TempDir tmp("shards");
  mamba::save_mamba_lm(*lm, tmp.path());
  auto state = nn::load_safetensors(tmp / "model.safetensors");
  std::map<std::string, Tensor> a, b;
  json map = json::object();
  for (const auto& [k, v] : state) {
    const bool first = k.find("layers.1") == std::string::npos;
    (first ? a : b)[k] = v;
    map[k] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  nn::save_safetensors(tmp / "model-00001-of-00002.safetensors", a);
  nn::save_safetensors(tmp / "model-00002-of-00002.safetensors", b);
  fs::remove(tmp / "model.safetensors");
  mamba::write_json_file(tmp / "model.safetensors.index.json", json{{"metadata", json::object()}, {"weight_map", map}});
  mamba::LoadedModel m = mamba::load_model(tmp.path());
  ASSERT_TRUE(m.lm);
  expect_same_state(*lm, *m.lm);
  mamba::write_json_file(tmp / "model.safetensors.index.json", json{{"metadata", json::object()}});
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::load_weights(tmp.path()); }, {"model.safetensors.index.json", "weight_map"}));
}

TEST(MambaCheckpoint, ErrorsNameTheDirectory) {
  TempDir tmp("errors");
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::detect_layout(tmp.path()); }, {tmp.path(), "no config.json"}));
  { std::ofstream(tmp / "config.json") << "{ not json"; }
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::detect_layout(tmp.path()); }, {"config.json", "not valid JSON"}));
  mamba::write_json_file(tmp / "config.json", json{{"foo", 1}});
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::detect_layout(tmp.path()); }, {"config.json", "cannot tell the checkpoint layout"}));
  // mamba_ssm config with only a torch pickle
  mamba::write_json_file(tmp / "config.json", mamba::to_mamba_ssm_config(mamba_test::tiny_lm(64)));
  { std::ofstream(tmp / "pytorch_model.bin") << "pickle"; }
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::load_mamba_lm(tmp.path()); }, {"pytorch_model.bin", "convert it to model.safetensors"}));
  fs::remove(tmp / "pytorch_model.bin");
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::load_mamba_lm(tmp.path()); }, {tmp.path(), "no model.safetensors"}));
  // weights that do not fit the config
  auto lm = random_lm(64, 7);
  mamba::save_mamba_lm(*lm, tmp.path());
  json cfg = mamba::read_json_file(tmp / "config.json");
  cfg["state_size"] = 4;
  mamba::write_json_file(tmp / "config.json", cfg);
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::load_mamba_lm(tmp.path()); },
                                   {tmp.path(), "do not fit the model of its config.json", "A_log"}));
  cfg["hidden_act"] = "relu";
  mamba::write_json_file(tmp / "config.json", cfg);
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::load_mamba_lm(tmp.path()); }, {"config.json", "hidden_act \"relu\""}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::load_vision_mamba(tmp.path()); }, {"not a Vim checkpoint"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::read_json_file(tmp / "missing.json"); }, {"missing.json", "cannot open"}));
  // a directory that cannot be made (a file is in the way) and a JSON file that cannot be written
  { std::ofstream(tmp / "a_file") << "x"; }
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::save_mamba_lm(*lm, tmp / "a_file/model"); },
                                   {"a_file/model", "cannot create the model directory"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::write_json_file(tmp / "no_dir/config.json", json::object()); },
                                   {"no_dir/config.json", "cannot write"}));
}

TEST(MambaCheckpoint, BadVocabularyMetadata) {
  auto lm = random_lm(60, 8);
  TempDir tmp("meta");
  mamba::save_mamba_lm(*lm, tmp.path());
  auto state = nn::load_safetensors(tmp / "model.safetensors");
  nn::save_safetensors(tmp / "model.safetensors", state, {{"format", "pt"}, {"pm_vocab_size", "sixty"}});
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::load_mamba_lm(tmp.path()); },
                                   {"model.safetensors", "pm_vocab_size = 'sixty' is not an integer"}));
  // a value that does not fit the padded table is ignored: the model keeps HF's vocabulary
  nn::save_safetensors(tmp / "model.safetensors", state, {{"format", "pt"}, {"pm_vocab_size", "40"}});
  EXPECT_EQ(mamba::load_mamba_lm(tmp.path())->config().vocab_size, 64);
}

}  // namespace

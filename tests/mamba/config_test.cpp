// config_test.cpp: MambaConfig / VimConfig: presets (shapes of spec §3 and §6.1), derived sizes,
// validation, field overrides by name (strings and JSON), and the HF, mamba_ssm and Vim config.json
// forms (round trips, the released HF config, unsupported features), with every error message.
#include <gtest/gtest.h>

#include "common/test_util.h"
#include "mamba/config.h"

namespace {
using json = nlohmann::json;
using mamba::MambaConfig;
using mamba::VimConfig;

TEST(MambaConfig, PresetsHaveTheReleasedShapes) {
  struct Row {
    const char* name;
    int64_t d, n, E, R;
  };
  for (const Row& r : {Row{"mamba-130m", 768, 24, 1536, 48}, Row{"mamba-370m", 1024, 48, 2048, 64},
                       Row{"mamba-790m", 1536, 48, 3072, 96}, Row{"mamba-1.4b", 2048, 48, 4096, 128},
                       Row{"mamba-2.8b", 2560, 64, 5120, 160}}) {
    SCOPED_TRACE(r.name);
    MambaConfig c = mamba::mamba_preset(r.name);
    EXPECT_EQ(c.d_model, r.d);
    EXPECT_EQ(c.n_layer, r.n);
    EXPECT_EQ(c.inner(), r.E);
    EXPECT_EQ(c.rank(), r.R);
    EXPECT_EQ(c.d_state, 16);
    EXPECT_EQ(c.d_conv, 4);
    EXPECT_EQ(c.vocab_size, 50277);
    EXPECT_EQ(c.padded_vocab(), 50280);
    EXPECT_TRUE(c.tie_embeddings);
    EXPECT_FALSE(c.bias);
    EXPECT_TRUE(c.conv_bias);
  }
  MambaConfig t = mamba::mamba_preset("mamba-tiny");
  EXPECT_EQ(t.d_state, 8);
  EXPECT_EQ(t.d_conv, 3);
  EXPECT_EQ(t.rank(), 3);
  EXPECT_EQ(mamba::mamba_preset("mamba-demo").d_model, 256);
  EXPECT_EQ(mamba::mamba_preset_names().size(), 7u);
  EXPECT_TRUE(pm_test::throws_with([] { mamba::mamba_preset("mamba-7b"); },
                                   {"mamba_preset", "unknown preset 'mamba-7b'", "mamba-130m"}));
}

TEST(VimConfig, PresetsHaveTheReleasedShapes) {
  VimConfig t = mamba::vim_preset("vim-tiny");
  EXPECT_EQ(t.embed_dim, 192);
  EXPECT_EQ(t.depth, 24);
  EXPECT_EQ(t.inner(), 384);
  EXPECT_EQ(t.rank(), 12);
  EXPECT_EQ(t.num_patches(), 196);
  EXPECT_EQ(t.seq_len(), 197);
  EXPECT_EQ(t.cls_position(), 98);
  VimConfig t8 = mamba::vim_preset("vim-tiny-stride8");
  EXPECT_EQ(t8.stride, 8);
  EXPECT_EQ(t8.grid(), 27);
  EXPECT_EQ(t8.seq_len(), 730);
  EXPECT_EQ(t8.cls_position(), 364);
  EXPECT_EQ(mamba::vim_preset("vim-small").embed_dim, 384);
  EXPECT_EQ(mamba::vim_preset("vim-base-stride8").embed_dim, 768);
  VimConfig tt = mamba::vim_preset("vim-test");
  EXPECT_EQ(tt.seq_len(), 17);
  EXPECT_EQ(tt.cls_position(), 8);
  tt.use_middle_cls_token = false;
  EXPECT_EQ(tt.cls_position(), 0);
  EXPECT_TRUE(pm_test::throws_with([] { mamba::vim_preset("vim-huge"); }, {"vim_preset", "unknown preset 'vim-huge'"}));
}

TEST(MambaConfig, EveryFieldCanBeOverridden) {
  MambaConfig c = mamba::mamba_preset("mamba-130m");
  mamba::set_field(c, "d_model", "64");
  mamba::set_field(c, "dt_max", "0.05");
  mamba::set_field(c, "tie_embeddings", "false");
  mamba::set_field(c, "dt_init", "constant");
  EXPECT_EQ(c.d_model, 64);
  EXPECT_DOUBLE_EQ(c.dt_max, 0.05);
  EXPECT_FALSE(c.tie_embeddings);
  EXPECT_EQ(c.dt_init, "constant");
  mamba::apply_overrides(c, json{{"n_layer", 3}, {"norm_eps", 1e-6}, {"bias", true}});
  EXPECT_EQ(c.n_layer, 3);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-6);
  EXPECT_TRUE(c.bias);
  // to_json lists every field, and feeding it back reproduces the config
  json all = mamba::to_json(c);
  EXPECT_EQ(all.size(), mamba::field_names(c).size());
  MambaConfig d;
  mamba::apply_overrides(d, all);
  EXPECT_EQ(mamba::to_json(d), all);
  VimConfig v;
  mamba::set_field(v, "image_mean", "0.5,0.5,0.25");
  EXPECT_EQ(v.image_mean, (std::vector<double>{0.5, 0.5, 0.25}));
  mamba::apply_overrides(v, json{{"image_std", {1, 2, 3}}, {"use_middle_cls_token", false}});
  EXPECT_EQ(v.image_std, (std::vector<double>{1, 2, 3}));
  VimConfig w;
  mamba::apply_overrides(w, mamba::to_json(v));
  EXPECT_EQ(mamba::to_json(w), mamba::to_json(v));
}

TEST(MambaConfig, OverrideErrorsNameTheField) {
  MambaConfig c;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::set_field(c, "d_modle", "3"); },
                                   {"MambaConfig", "unknown field 'd_modle'", "d_model"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::set_field(c, "n_layer", "3.5"); },
                                   {"MambaConfig", "field 'n_layer' needs an integer", "'3.5'"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::set_field(c, "dt_min", "small"); },
                                   {"field 'dt_min' needs a number", "'small'"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::set_field(c, "bias", "yes"); }, {"field 'bias' needs true or false"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::apply_overrides(c, json{{"d_state", "16"}}); },
                                   {"field 'd_state' needs an integer"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::apply_overrides(c, json::array()); }, {"overrides must be a JSON object"}));
  VimConfig v;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::apply_overrides(v, json{{"image_mean", "red"}}); },
                                   {"VimConfig", "field 'image_mean' needs a list of numbers"}));
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::set_field(v, "img", "3"); }, {"VimConfig", "unknown field 'img'"}));
}

TEST(MambaConfig, ValidationNamesTheBadField) {
  auto bad = [](auto edit, std::vector<std::string> parts) {
    MambaConfig c = mamba::mamba_preset("mamba-tiny");
    edit(c);
    return pm_test::throws_with([&] { c.validate(); }, parts);
  };
  EXPECT_TRUE(bad([](MambaConfig& c) { c.d_model = 0; }, {"MambaConfig", "d_model must be positive"}));
  EXPECT_TRUE(bad([](MambaConfig& c) { c.n_layer = 0; }, {"n_layer must be positive"}));
  EXPECT_TRUE(bad([](MambaConfig& c) { c.vocab_size = -1; }, {"vocab_size must be positive"}));
  EXPECT_TRUE(bad([](MambaConfig& c) { c.pad_vocab_size_multiple = 0; }, {"pad_vocab_size_multiple must be positive"}));
  EXPECT_TRUE(bad([](MambaConfig& c) { c.d_state = 0; }, {"d_state must be positive"}));
  EXPECT_TRUE(bad([](MambaConfig& c) { c.d_conv = 0; }, {"d_conv must be positive"}));
  EXPECT_TRUE(bad([](MambaConfig& c) { c.expand = 0; }, {"expand must be positive"}));
  EXPECT_TRUE(bad([](MambaConfig& c) { c.d_inner = -2; }, {"d_inner must be >= 0"}));
  EXPECT_TRUE(bad([](MambaConfig& c) { c.dt_rank = -1; }, {"dt_rank must be >= 0"}));
  EXPECT_TRUE(bad([](MambaConfig& c) { c.norm_eps = -1; }, {"norm_eps must be >= 0"}));
  EXPECT_TRUE(bad([](MambaConfig& c) { c.dt_max = 1e-4; }, {"need 0 < dt_min <= dt_max"}));
  EXPECT_TRUE(bad([](MambaConfig& c) { c.dt_init_floor = -1; }, {"dt_init_floor must be >= 0"}));
  EXPECT_TRUE(bad([](MambaConfig& c) { c.dt_scale = 0; }, {"dt_scale must be positive"}));
  EXPECT_TRUE(bad([](MambaConfig& c) { c.dt_init = "uniform"; }, {"dt_init must be \"random\" or \"constant\""}));
  auto badv = [](auto edit, std::vector<std::string> parts) {
    VimConfig c = mamba::vim_preset("vim-test");
    edit(c);
    return pm_test::throws_with([&] { c.validate(); }, parts);
  };
  EXPECT_TRUE(badv([](VimConfig& c) { c.stride = 0; }, {"VimConfig", "must be positive"}));
  EXPECT_TRUE(badv([](VimConfig& c) { c.patch_size = 32; }, {"patch_size 32 is larger than img_size 16"}));
  EXPECT_TRUE(badv([](VimConfig& c) { c.depth = 0; }, {"embed_dim and depth must be positive"}));
  EXPECT_TRUE(badv([](VimConfig& c) { c.d_conv = 0; }, {"d_state, d_conv and expand must be positive"}));
  EXPECT_TRUE(badv([](VimConfig& c) { c.dt_rank = -3; }, {"dt_rank must be >= 0"}));
  EXPECT_TRUE(badv([](VimConfig& c) { c.num_classes = 0; }, {"num_classes must be positive"}));
  EXPECT_TRUE(badv([](VimConfig& c) { c.norm_epsilon = -1; }, {"norm_epsilon must be >= 0"}));
  EXPECT_TRUE(badv([](VimConfig& c) { c.drop_path_rate = 1.0; }, {"drop_path_rate must be in [0, 1)"}));
  EXPECT_TRUE(badv([](VimConfig& c) { c.image_std = {1.0}; }, {"image_mean and image_std need one value per channel (3)"}));
}

TEST(MambaConfig, ReadsTheReleasedHFConfig) {
  // mamba-130m-hf's config.json (spec §4.1)
  json j = json::parse(R"({"architectures": ["MambaForCausalLM"], "model_type": "mamba", "hidden_size": 768,
    "d_model": 768, "intermediate_size": 1536, "d_inner": 1536, "num_hidden_layers": 24, "n_layer": 24,
    "state_size": 16, "conv_kernel": 4, "expand": 2, "time_step_rank": 48, "time_step_min": 0.001,
    "time_step_max": 0.1, "time_step_floor": 0.0001, "time_step_scale": 1.0, "time_step_init_scheme": "random",
    "use_bias": false, "use_conv_bias": true, "hidden_act": "silu", "layer_norm_epsilon": 1e-05,
    "residual_in_fp32": true, "rms_norm": true, "fused_add_norm": true, "vocab_size": 50280,
    "pad_vocab_size_multiple": 8, "initializer_range": 0.1, "rescale_prenorm_residual": false,
    "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0, "torch_dtype": "float32", "use_cache": true,
    "ssm_cfg": {}})");
  MambaConfig c = mamba::from_hf_config(j);
  EXPECT_EQ(c.d_model, 768);
  EXPECT_EQ(c.n_layer, 24);
  EXPECT_EQ(c.inner(), 1536);
  EXPECT_EQ(c.rank(), 48);
  EXPECT_EQ(c.padded_vocab(), 50280);
  EXPECT_FALSE(c.bias);
  EXPECT_TRUE(c.tie_embeddings);
  // HF's defaults: use_bias is True when the field is absent; time_step_rank may be "auto"
  j.erase("use_bias");
  j["time_step_rank"] = "auto";
  c = mamba::from_hf_config(j);
  EXPECT_TRUE(c.bias);
  EXPECT_EQ(c.rank(), 48);
}

TEST(MambaConfig, HFRoundTripAndFieldNames) {
  MambaConfig c = mamba::mamba_preset("mamba-tiny");
  c.vocab_size = 60;
  json j = mamba::to_hf_config(c);
  for (const char* k : {"architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size",
                        "num_hidden_layers", "state_size", "conv_kernel", "expand", "time_step_rank", "use_bias",
                        "use_conv_bias", "hidden_act", "layer_norm_epsilon", "tie_word_embeddings", "residual_in_fp32"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["architectures"], json::array({"MambaForCausalLM"}));
  EXPECT_EQ(j["model_type"], "mamba");
  EXPECT_EQ(j["vocab_size"], 64);  // HF's vocab_size is the padded table size
  EXPECT_EQ(j["use_bias"], false);
  MambaConfig back = mamba::from_hf_config(j);
  EXPECT_EQ(back.padded_vocab(), 64);
  back.vocab_size = 60;
  back.initializer_range = c.initializer_range;
  EXPECT_EQ(mamba::to_json(back), mamba::to_json(c));
  c.d_inner = 40;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::to_hf_config(c); }, {"to_hf_config", "d_inner 40", "expand * d_model = 32"}));
}

TEST(MambaConfig, HFConfigErrors) {
  json j = mamba::to_hf_config(mamba::mamba_preset("mamba-tiny"));
  json k = j;
  k["model_type"] = "llama";
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_hf_config(k); }, {"model_type is \"llama\"", "\"mamba\""}));
  k = j;
  k.erase("vocab_size");
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_hf_config(k); }, {"missing required field 'vocab_size'"}));
  k = j;
  k["hidden_act"] = "gelu";
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_hf_config(k); }, {"hidden_act \"gelu\" is not supported"}));
  k = j;
  k["rms_norm"] = false;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_hf_config(k); }, {"rms_norm false is not supported"}));
  k = j;
  k["state_size"] = "big";
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_hf_config(k); }, {"'state_size' has the wrong type"}));
  k = j;
  k["time_step_rank"] = 2.5;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_hf_config(k); }, {"'time_step_rank' must be an integer or \"auto\""}));
}

TEST(MambaConfig, MambaSSMRoundTripAndErrors) {
  // the original mamba-130m config.json (spec §4.2)
  json orig = json::parse(R"({"d_model": 768, "n_layer": 24, "vocab_size": 50277, "ssm_cfg": {}, "rms_norm": true,
    "residual_in_fp32": true, "fused_add_norm": true, "pad_vocab_size_multiple": 8})");
  MambaConfig c = mamba::from_mamba_ssm_config(orig);
  EXPECT_EQ(mamba::to_json(c), mamba::to_json(mamba::mamba_preset("mamba-130m")));
  MambaConfig t = mamba::mamba_preset("mamba-tiny");
  json j = mamba::to_mamba_ssm_config(t);
  EXPECT_EQ(j["ssm_cfg"]["d_state"], 8);
  EXPECT_EQ(j["ssm_cfg"]["dt_rank"], 3);
  EXPECT_EQ(mamba::to_json(mamba::from_mamba_ssm_config(j)), mamba::to_json(t));
  json k = j;
  k["d_intermediate"] = 64;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_mamba_ssm_config(k); }, {"d_intermediate != 0"}));
  k = j;
  k["attn_layer_idx"] = {1};
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_mamba_ssm_config(k); }, {"attention layers"}));
  k = j;
  k["ssm_cfg"]["layer"] = "Mamba2";
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_mamba_ssm_config(k); }, {"ssm_cfg.layer \"Mamba2\""}));
  k = j;
  k["rms_norm"] = false;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_mamba_ssm_config(k); }, {"mamba_ssm", "rms_norm false"}));
  k = j;
  k.erase("n_layer");
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_mamba_ssm_config(k); }, {"(mamba_ssm)", "missing required field 'n_layer'"}));
  t.d_inner = 40;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::to_mamba_ssm_config(t); }, {"to_mamba_ssm_config", "d_inner 40"}));
}

TEST(VimConfig, RoundTripAndErrors) {
  VimConfig c = mamba::vim_preset("vim-small-stride8");
  json j = mamba::to_vim_config(c);
  for (const char* k : {"model_type", "img_size", "patch_size", "stride", "channels", "embed_dim", "depth", "d_state",
                        "d_conv", "expand", "dt_rank", "num_classes", "use_middle_cls_token", "if_divide_out",
                        "norm_epsilon", "image_mean", "image_std"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["model_type"], "vim");
  VimConfig back = mamba::from_vim_config(j);
  back.dt_rank = 0;  // written as its value (24); auto gives the same
  EXPECT_EQ(mamba::to_json(back), mamba::to_json(c));
  json k = j;
  k["model_type"] = "vit";
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_vim_config(k); }, {"model_type must be \"vim\"", "\"vit\""}));
  k = j;
  k["bimamba_type"] = "v1";
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_vim_config(k); }, {"bimamba_type \"v1\" is not supported"}));
  k = j;
  k["if_cls_token"] = false;
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_vim_config(k); }, {"if_cls_token false"}));
  k = j;
  k.erase("num_classes");
  EXPECT_TRUE(pm_test::throws_with([&] { mamba::from_vim_config(k); }, {"(vim)", "missing required field 'num_classes'"}));
}

}  // namespace

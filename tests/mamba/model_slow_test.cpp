// model_slow_test.cpp: parameter counts of the full-size presets against spec §3 and §6.1 (builds
// the models, hundreds of MB; labelled slow).
#include <gtest/gtest.h>

#include "mamba/lm.h"
#include "mamba/vision.h"

namespace {

TEST(MambaPresetsSlow, LanguageModelParameterCounts) {
  EXPECT_EQ(mamba::MambaLM(mamba::mamba_preset("mamba-130m")).num_parameters(), 129135360);
}

TEST(MambaPresetsSlow, VimParameterCounts) {
  EXPECT_EQ(mamba::VisionMamba(mamba::vim_preset("vim-small")).num_parameters(), 25796584);
  EXPECT_EQ(mamba::VisionMamba(mamba::vim_preset("vim-small-stride8")).num_parameters(), 26001256);
  EXPECT_EQ(mamba::VisionMamba(mamba::vim_preset("vim-base")).num_parameters(), 97598440);
}

}  // namespace

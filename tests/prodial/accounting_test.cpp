// accounting_test.cpp: the parameter-accounting checks of accounting_checks.h on one-layer copies of
// the mamba-130m and vim-tiny presets (full width, small vocabulary), scaled to their 24 layers.
#include "accounting_checks.h"

namespace {

TEST(Accounting, Mamba130mOneLayer) {
  auto cfg = mamba::mamba_preset("mamba-130m");
  cfg.n_layer = 1;
  cfg.vocab_size = 16;
  prodial_test::check_mamba130m(cfg);
}

TEST(Accounting, VimTinyOneLayer) {
  auto cfg = mamba::vim_preset("vim-tiny");
  cfg.depth = 1;
  cfg.img_size = 32;
  cfg.num_classes = 10;
  prodial_test::check_vim_tiny(cfg);
}

}  // namespace

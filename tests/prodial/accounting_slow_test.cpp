// accounting_slow_test.cpp: the parameter-accounting checks of accounting_checks.h on the full
// mamba-130m and vim-tiny presets (builds the 130M-parameter model: tens of seconds on a busy CPU).
#include "accounting_checks.h"

namespace {

TEST(AccountingSlow, Mamba130m) { prodial_test::check_mamba130m(mamba::mamba_preset("mamba-130m")); }

TEST(AccountingSlow, VimTiny) { prodial_test::check_vim_tiny(mamba::vim_preset("vim-tiny")); }

}  // namespace

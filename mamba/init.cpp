// init.cpp: mamba_ssm's model-level initialisation.
#include "mamba/init.h"

#include <cmath>

#include "nn/embedding.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "tensor/ops/elementwise.h"

namespace mamba {

namespace {
// The last component of a dotted module name ("layers.0.mixer.dt_proj" -> "dt_proj").
std::string leaf_name(const std::string& dotted) {
  const size_t dot = dotted.rfind('.');
  return dot == std::string::npos ? dotted : dotted.substr(dot + 1);
}
}  // namespace

void init_mamba_weights_(nn::Module& root, int64_t n_layer, tensor::Generator* gen, double embedding_std,
                         bool rescale_prenorm_residual) {
  if (n_layer <= 0) throw std::invalid_argument("init_mamba_weights_: n_layer must be positive, got " + std::to_string(n_layer));
  root.apply([&](const std::string& name, nn::Module& m) {
    const std::string leaf = leaf_name(name);
    if (auto* lin = dynamic_cast<nn::Linear*>(&m)) {
      if (lin->has_bias() && leaf != "dt_proj") nn::init::zeros_(lin->bias().data());
      if (rescale_prenorm_residual && leaf == "out_proj") {
        const tensor::Tensor w = lin->weight().data();
        nn::init::kaiming_uniform_(w, gen, std::sqrt(5.0));
        tensor::mul_(w, 1.0 / std::sqrt(static_cast<double>(n_layer)));
      }
    } else if (auto* emb = dynamic_cast<nn::Embedding*>(&m)) {
      nn::init::normal_(emb->weight().data(), gen, 0.0, embedding_std);
    }
  });
}

}  // namespace mamba

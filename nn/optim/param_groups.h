// param_groups.h: building optimizer parameter groups from named parameters, above all the usual
// split into a weight-decay group and a no-decay group (norms, biases, Mamba's D, A_log and dt bias):
//   AdamW opt(optim::split_decay(model.named_trainable_parameters(), 0.05), opts);
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nn/optim/optimizer.h"

namespace nn::optim {

using NamedParams = std::vector<std::pair<std::string, Variable>>;
using ParamPredicate = std::function<bool(const std::string& name, const Variable& v)>;

// One group holding `params` (names kept), with the given lr / weight decay when set.
ParamGroup make_group(const NamedParams& params, std::optional<double> lr = std::nullopt,
                      std::optional<double> weight_decay = std::nullopt);

// The default no-decay rule: tensors with fewer than 2 dims (biases, norm scales, D, the dt bias),
// and names whose last component is "bias", "D" or "A_log", or that contain "norm".
bool default_no_decay(const std::string& name, const Variable& v);

// Predicates for custom rules.
ParamPredicate name_ends_with(std::vector<std::string> suffixes);
ParamPredicate name_contains(std::vector<std::string> parts);
ParamPredicate any_of(std::vector<ParamPredicate> preds);

// Two groups, always in this order: [0] parameters where no_decay is false, weight_decay =
// `weight_decay`; [1] the others, weight_decay = 0. Parameters without requires_grad are left out.
// Either group may be empty. Both use the optimizer's default lr.
std::vector<ParamGroup> split_decay(const NamedParams& params, double weight_decay,
                                    const ParamPredicate& no_decay = default_no_decay);

}  // namespace nn::optim

// train_state.h: saving and resuming a training run. A checkpoint directory holds
//   model.safetensors      Module::state_dict()
//   optimizer.safetensors  Optimizer::state_dict() (when an optimizer is given)
//   train_state.json       step, epoch, data position, RNG states (seed + offset per generator),
//                          the schedule (when given), the optimizer's name and free-form extras
// and is replaced as a whole: everything is written into "<dir>.tmp.<pid>", then swapped in by
// renames, so an interrupted save leaves the previous checkpoint intact.
// Resuming restores all of it, so a run continues bit for bit as if never interrupted (same thread
// count): the schedule is a pure function of `step`, and Philox draws depend only on seed + offset.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "nn/module.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/schedule.h"
#include "tensor/generator.h"

namespace nn {

struct TrainState {
  int64_t step = 0;           // optimizer updates done = the schedule step of the next update
  int64_t epoch = 0;
  int64_t data_position = 0;  // where the data stream resumes (e.g. batches consumed this epoch)
  nlohmann::json extra = nlohmann::json::object();  // anything else the loop wants back
};

// What a checkpoint covers besides the TrainState. Null / empty members are skipped. The process-wide
// default generator is always saved and restored, under the name "default".
struct Checkpointed {
  Module* model = nullptr;
  optim::Optimizer* optimizer = nullptr;
  optim::Schedule* schedule = nullptr;
  std::map<std::string, tensor::Generator*> generators;  // e.g. {"dropout", &gen}, {"data", &gen}
};

void save_train_state(const std::string& dir, const Checkpointed& what, const TrainState& state);

// Loads a checkpoint written by save_train_state into `what` (model strictly, optimizer, schedule,
// generators) and returns its TrainState. Errors name the directory and the file or key at fault; a
// checkpoint lacking something `what` asks for (no optimizer file, an unknown generator name, ...)
// throws std::runtime_error before anything is modified.
TrainState load_train_state(const std::string& dir, const Checkpointed& what);

}  // namespace nn

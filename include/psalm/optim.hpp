// psalm/optim.hpp — optimizers for training with the tape autograd: AdamW and SGD over
// parameter groups, learning-rate schedules (LambdaLR multipliers) and gradient clipping by
// global norm. docs/optim.md shows a training loop. Test: tests/optim/test_adamw.cpp.
#pragma once

#include "psalm/optim/adamw.hpp"
#include "psalm/optim/clip.hpp"
#include "psalm/optim/param_group.hpp"
#include "psalm/optim/schedule.hpp"
#include "psalm/optim/sgd.hpp"

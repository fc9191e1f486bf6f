# The layer table of docs/design.md ("Layers"), in one place: tests/support/check_layers.cmake
# checks the includes against it and tests/CMakeLists.txt compiles the device layers under nvcc.
# Layers in docs/design.md's order; a header under include/psalm/<layer>/ may include psalm headers
# of the layers in allowed_<layer> only, directly or through any chain of includes (umbrella
# headers such as psalm/tensor.hpp are looked through).
set(PSALM_LAYERS core kernels tensor backend io autograd nn models optim dist data eval psalm serve train)

set(allowed_core "core")
set(allowed_kernels "core;kernels")
set(allowed_tensor "core;kernels;tensor")
set(allowed_backend "core;kernels;tensor;backend")
set(allowed_io "core;kernels;tensor;io")
set(allowed_autograd "core;kernels;tensor;backend;autograd")
set(allowed_nn "core;kernels;tensor;backend;io;autograd;nn")
set(allowed_models "core;kernels;tensor;backend;io;autograd;nn;models")
set(allowed_optim "core;kernels;tensor;backend;autograd;optim")
set(allowed_dist "core;kernels;tensor;backend;dist")
set(allowed_data "core;kernels;tensor;io;data")
set(allowed_eval "core;kernels;tensor;io;eval")
set(allowed_psalm "core;kernels;tensor;backend;io;autograd;nn;models;data;eval;psalm")
set(allowed_serve "core;kernels;tensor;backend;io;autograd;nn;models;data;eval;psalm;serve")
set(allowed_train "core;kernels;tensor;backend;io;autograd;nn;models;optim;dist;data;eval;psalm;train")

# Kernel bodies (PSALM_HD functions) live in these layers only; tape entries
# (autograd::record) in autograd only. The layers above compose them.
set(PSALM_BODY_LAYERS core kernels tensor backend autograd)
set(PSALM_TAPE_LAYERS autograd)

# Layers whose headers run on any device and so compile under nvcc (backend: its cuda/ part),
# except headers whose opening comment says "Host code". io, data, eval and backend/cpu are
# host code.
set(PSALM_DEVICE_LAYERS core kernels tensor backend autograd nn models optim dist psalm train)

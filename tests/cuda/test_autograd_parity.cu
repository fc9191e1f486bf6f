// CPU-vs-CUDA parity of every differentiable op, forward and backward, and of the optimizer
// update bodies: the case list of tests/cuda/op_cases.hpp runs once with CPU tensors (the
// kernel bodies in a host loop, tests/cuda/host_backend.cuh) and once with CUDA tensors
// (grid-stride kernels, cuBLAS, atomics for scatter-adds), and every output and gradient is
// compared. Dropout and drop_path masks come from the same Philox stream on both devices.
#include <cstdio>
#include <string>

#include "cuda/host_backend.cuh"
#include "cuda/op_cases.hpp"
#include "cuda/parity.cuh"
#include "psalm/cuda.cuh"

namespace psalm::parity {

void run_autograd_cases() {
  const std::vector<op_cases::CaseResult> host = op_cases::collect<float, cpu>();
  const std::vector<op_cases::CaseResult> device = op_cases::collect<float, cuda>();
  if (host.size() != device.size()) {
    std::printf("FAIL autograd cases: %zu on the host, %zu on the GPU\n", host.size(),
                device.size());
    ++failures();
    return;
  }
  for (std::size_t i = 0; i < host.size(); ++i) {
    const std::string mismatch = op_cases::compare(device[i], host[i]);
    if (mismatch.empty()) {
      std::printf("ok   %s\n", host[i].name.c_str());
    } else {
      std::printf("FAIL %s: %s\n", host[i].name.c_str(), mismatch.c_str());
      ++failures();
    }
  }
}

}  // namespace psalm::parity

// psalm/core/macros.hpp — portability macros shared by host and device code.
// PSALM_HD marks a function callable from host and CUDA device code (nothing under g++).
// Depends on: nothing. Test: tests/core/test_macros.cpp.
#pragma once

#if defined(__CUDACC__)
#define PSALM_HD __host__ __device__
#define PSALM_DEVICE __device__
#define PSALM_HD_INLINE __host__ __device__ __forceinline__
#else
#define PSALM_HD
#define PSALM_DEVICE
#define PSALM_HD_INLINE inline
#endif

#if defined(__CUDA_ARCH__)
#define PSALM_IN_DEVICE_CODE 1
#else
#define PSALM_IN_DEVICE_CODE 0
#endif

#define PSALM_STRINGIFY_IMPL(x) #x
#define PSALM_STRINGIFY(x) PSALM_STRINGIFY_IMPL(x)

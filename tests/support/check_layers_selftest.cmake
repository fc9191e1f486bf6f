# Shows that tests/support/check_layers.cmake can fail: it writes small include trees, one
# rule broken in each (a umbrella header pulling the CPU backend into io, an upward include,
# a kernel body and a tape entry in a model folder, a backend library outside its backend, a
# missing header, a folder that is no layer), runs the check on each and requires a failure
# that names the header and the rule; a clean tree must pass.
# Usage: cmake -DCHECK=<check_layers.cmake> -DWORK=<scratch folder> -P check_layers_selftest.cmake
cmake_minimum_required(VERSION 3.25)
set(errors "")

# A minimal tree that follows the rules: core <- kernels <- tensor <- backend/cpu, io, models.
function(write_clean_tree root)
  file(REMOVE_RECURSE ${root})
  file(WRITE ${root}/core/macros.hpp "#pragma once\n#define PSALM_HD\n")
  file(WRITE ${root}/kernels/relu.hpp
       "#pragma once\n#include \"psalm/core/macros.hpp\"\nstruct Relu { PSALM_HD float operator()(float x) const { return x; } };\n")
  file(WRITE ${root}/tensor/tensor.hpp "#pragma once\n#include \"psalm/kernels/relu.hpp\"\n")
  file(WRITE ${root}/backend/cpu/executor.hpp
       "#pragma once\n#include <omp.h>\n#include \"psalm/tensor/tensor.hpp\"\n")
  file(WRITE ${root}/tensor.hpp
       "#pragma once\n#include \"psalm/backend/cpu/executor.hpp\"\n#include \"psalm/tensor/tensor.hpp\"\n")
  file(WRITE ${root}/io/image.hpp "#pragma once\n#include \"psalm/tensor/tensor.hpp\"\n")
  file(WRITE ${root}/autograd/relu.hpp
       "#pragma once\n#include \"psalm/tensor.hpp\"\n// record( in a comment is fine\ninline int f() { return record(1); }\n")
  file(WRITE ${root}/nn/linear.hpp "#pragma once\n#include \"psalm/autograd/relu.hpp\"\n")
  file(WRITE ${root}/models/net.hpp
       "#pragma once\n#include \"psalm/nn/linear.hpp\"\n#include \"psalm/io/image.hpp\"\n// launches PSALM_HD bodies\ninline bool g() { return should_record(1); }\n")
endfunction()

# Runs the check on `root`; `expect` is "" for a pass or a regular expression the failure
# message must match.
function(expect_check name root expect)
  execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${root} -P ${CHECK}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REPLACE "\n" " " text "${out}${err}")
  string(REGEX REPLACE "[ \t]+" " " text "${text}")
  if(expect STREQUAL "")
    if(NOT rc EQUAL 0)
      set(errors "${errors}\n  ${name}: the clean tree failed: ${text}" PARENT_SCOPE)
    endif()
  elseif(rc EQUAL 0)
    set(errors "${errors}\n  ${name}: the check passed a broken tree" PARENT_SCOPE)
  elseif(NOT text MATCHES "${expect}")
    set(errors "${errors}\n  ${name}: failed without naming the rule (${expect}): ${text}"
        PARENT_SCOPE)
  else()
    message(STATUS "ok: ${name} fails as it should")
  endif()
endfunction()

# One broken tree per case: the clean tree with `text` written to (WRITE) or appended to
# (APPEND) `file`; the failure must match `expect`.
function(broken_case name file how text expect)
  string(MAKE_C_IDENTIFIER "${name}" dir)
  set(root ${WORK}/${dir}/psalm)
  write_clean_tree(${root})
  file(${how} ${root}/${file} "${text}")
  expect_check("${name}" ${root} "${expect}")
  set(errors "${errors}" PARENT_SCOPE)
endfunction()

write_clean_tree(${WORK}/clean/psalm)
expect_check("clean tree" ${WORK}/clean/psalm "")

broken_case("umbrella pulls the CPU backend into io" io/image.hpp WRITE
  "#pragma once\n#include \"psalm/tensor.hpp\"\n"
  "io/image.hpp reaches psalm/backend/cpu/executor.hpp through psalm/tensor.hpp: layer io may not use backend")
broken_case("upward include" nn/linear.hpp WRITE
  "#pragma once\n#include \"psalm/models/net.hpp\"\n"
  "nn/linear.hpp includes psalm/models/net.hpp: layer nn may not use models")
broken_case("kernel body in a model folder" models/net.hpp APPEND
  "struct Body { PSALM_HD void operator()(long i) const {} };\n"
  "models/net.hpp defines a kernel body")
broken_case("tape entry in a model folder" models/net.hpp APPEND
  "inline int h() { return autograd::record(2); }\n" "models/net.hpp records a tape entry")
# A record() that is no tape entry (a lookup in a header that cannot reach the tape) passes.
set(_root ${WORK}/record_lookup_in_io/psalm)
write_clean_tree(${_root})
file(APPEND ${_root}/io/image.hpp
     "struct Records { int record(int i) const; int first() const { return record(0); } };\n")
expect_check("record() lookup in io" ${_root} "")
broken_case("BLAS library outside backend/cpu" io/image.hpp APPEND "#include <Eigen/Core>\n"
  "io/image.hpp includes a CPU backend library outside backend/cpu")
broken_case("MPI outside dist/mpi.hpp" io/image.hpp APPEND "#include <mpi.h>\n"
  "io/image.hpp includes MPI outside dist/mpi.hpp")
broken_case("NCCL outside dist/nccl.cuh and backend/cuda" io/image.hpp APPEND "#include <nccl.h>\n"
  "io/image.hpp includes a CUDA header outside backend/cuda")
broken_case("missing header" io/image.hpp APPEND "#include \"psalm/io/gone.hpp\"\n"
  "io/image.hpp includes psalm/io/gone.hpp, which does not exist")
broken_case("folder that is no layer" misc/util.hpp WRITE "#pragma once\n"
  "misc/util.hpp: folder 'misc' is not a layer")

if(errors)
  message(FATAL_ERROR "the layer check does not catch what it should:${errors}")
endif()

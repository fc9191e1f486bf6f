# Checks docs/design.md's layer rule on include/psalm (the table is tests/support/layers.cmake):
# 1. a header under <layer>/ reaches, through any chain of psalm includes (umbrella headers
#    such as psalm/tensor.hpp are looked through), only headers of the layers it may use;
#    every included psalm header exists; every folder is a layer;
# 2. the table itself is closed: a layer may use everything the layers it uses may use;
# 3. library headers stay in their backend: Eigen, BLAS, oneDNN and OpenMP in backend/cpu,
#    CUDA headers in .cuh files under backend/cuda (and NCCL's back end, dist/nccl.cuh), MPI in
#    dist/mpi.hpp only, fmt never in core or kernels (nvcc);
# 4. kernel bodies (PSALM_HD) only in core, kernels, tensor, backend, autograd, and tape
#    entries (record() in a header that reaches autograd/) only in autograd: models, psalm and
#    the layers above compose ops.
# Usage: cmake -DROOT=<include/psalm> -P check_layers.cmake
# tests/support/check_layers_selftest.cmake shows it failing on deliberately wrong trees.
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/layers.cmake)

get_filename_component(ROOT "${ROOT}" ABSOLUTE)
if(NOT IS_DIRECTORY "${ROOT}")
  message(FATAL_ERROR "check_layers: ROOT '${ROOT}' is not a folder")
endif()
set(failures "")

# ---- 2. the table is closed under "may use" ------------------------------------------------
foreach(layer IN LISTS PSALM_LAYERS)
  foreach(used IN LISTS allowed_${layer})
    foreach(below IN LISTS allowed_${used})
      if(NOT below IN_LIST allowed_${layer})
        string(APPEND failures "\n  table: ${layer} may use ${used}, which may use ${below}, "
               "but ${layer} may not use ${below}")
      endif()
    endforeach()
  endforeach()
endforeach()

# ---- read every header's direct psalm includes ----------------------------------------------
file(GLOB_RECURSE headers RELATIVE ${ROOT} ${ROOT}/*.hpp ${ROOT}/*.cuh)
list(SORT headers)
foreach(h IN LISTS headers)
  string(MAKE_C_IDENTIFIER "${h}" id)
  file(STRINGS ${ROOT}/${h} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]psalm/")
  set(direct "")
  foreach(line IN LISTS lines)
    string(REGEX MATCH "[<\"]psalm/([^\">]+)[\">]" _ "${line}")
    set(target ${CMAKE_MATCH_1})
    if(NOT EXISTS ${ROOT}/${target})
      string(APPEND failures "\n  ${h} includes psalm/${target}, which does not exist")
    else()
      list(APPEND direct ${target})
    endif()
  endforeach()
  set(inc_${id} "${direct}")
endforeach()

# The layer of a header: its first folder; "" for the umbrella headers at include/psalm/.
function(layer_of h out)
  if(h MATCHES "^([^/]+)/")
    set(${out} ${CMAKE_MATCH_1} PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

# reach_<id>: every psalm header h includes directly or through other headers (memoised in
# global properties).
function(compute_reach h)
  string(MAKE_C_IDENTIFIER "${h}" id)
  get_property(done GLOBAL PROPERTY reach_${id} SET)
  if(done)
    return()
  endif()
  set_property(GLOBAL PROPERTY reach_${id} "")  # guards against include cycles
  set(all "")
  foreach(d IN LISTS inc_${id})
    string(MAKE_C_IDENTIFIER "${d}" did)
    compute_reach(${d})
    get_property(below GLOBAL PROPERTY reach_${did})
    list(APPEND all ${d} ${below})
  endforeach()
  list(REMOVE_DUPLICATES all)
  set_property(GLOBAL PROPERTY reach_${id} "${all}")
endfunction()

foreach(h IN LISTS headers)
  compute_reach(${h})
  string(MAKE_C_IDENTIFIER "${h}" id)
  get_property(reach_${id} GLOBAL PROPERTY reach_${id})
endforeach()

# ---- 1. the include direction, through umbrellas ------------------------------------------
foreach(h IN LISTS headers)
  layer_of(${h} layer)
  if(layer STREQUAL "")
    continue()  # an umbrella at include/psalm/: belongs to no layer, includes what it bundles
  endif()
  if(NOT layer IN_LIST PSALM_LAYERS)
    string(APPEND failures "\n  ${h}: folder '${layer}' is not a layer of docs/design.md")
    continue()
  endif()
  string(MAKE_C_IDENTIFIER "${h}" id)
  set(reported "")
  foreach(r IN LISTS reach_${id})
    layer_of(${r} rlayer)
    if(rlayer STREQUAL "" OR rlayer IN_LIST allowed_${layer} OR rlayer IN_LIST reported)
      continue()
    endif()
    list(APPEND reported ${rlayer})
    # Name the direct include the violation comes through.
    set(via "")
    foreach(d IN LISTS inc_${id})
      string(MAKE_C_IDENTIFIER "${d}" did)
      if(d STREQUAL r OR r IN_LIST reach_${did})
        set(via ${d})
        break()
      endif()
    endforeach()
    if(via STREQUAL r)
      set(how "includes psalm/${r}")
    else()
      set(how "reaches psalm/${r} through psalm/${via}")
    endif()
    string(REPLACE ";" " " may "${allowed_${layer}}")
    string(APPEND failures "\n  ${h} ${how}: layer ${layer} may not use ${rlayer} "
           "(it may use: ${may})")
  endforeach()
endforeach()

# ---- 3. library headers ---------------------------------------------------------------------
foreach(h IN LISTS headers)
  layer_of(${h} layer)
  file(STRINGS ${ROOT}/${h} cpu_libs
       REGEX "^[ \t]*#[ \t]*include[ \t]*<(Eigen/|cblas|oneapi/|dnnl|omp\\.h)")
  if(cpu_libs AND NOT h MATCHES "^backend/cpu/")
    string(APPEND failures "\n  ${h} includes a CPU backend library outside backend/cpu: ${cpu_libs}")
  endif()
  file(STRINGS ${ROOT}/${h} cuda_libs
       REGEX "^[ \t]*#[ \t]*include[ \t]*<(cuda|cublas|thrust/|cub/|curand|nccl)")
  if(cuda_libs AND NOT h MATCHES "^backend/cuda/.*\\.cuh$" AND NOT h STREQUAL "dist/nccl.cuh")
    string(APPEND failures "\n  ${h} includes a CUDA header outside backend/cuda/*.cuh: ${cuda_libs}")
  endif()
  file(STRINGS ${ROOT}/${h} mpi_libs REGEX "^[ \t]*#[ \t]*include[ \t]*<mpi")
  if(mpi_libs AND NOT h STREQUAL "dist/mpi.hpp")
    string(APPEND failures "\n  ${h} includes MPI outside dist/mpi.hpp: ${mpi_libs}")
  endif()
  if(layer STREQUAL "core" OR layer STREQUAL "kernels")
    file(STRINGS ${ROOT}/${h} fmt REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]fmt/")
    if(fmt)
      string(APPEND failures "\n  ${h} includes fmt, which nvcc cannot compile: ${fmt}")
    endif()
  endif()
endforeach()

# ---- 4. kernel bodies and tape entries in their layers ------------------------------------
foreach(h IN LISTS headers)
  layer_of(${h} layer)
  if(layer STREQUAL "")
    continue()
  endif()
  file(STRINGS ${ROOT}/${h} code REGEX "PSALM_HD|record\\(")
  set(bodies "")
  set(tape "")
  foreach(line IN LISTS code)
    if(line MATCHES "^[ \t]*//")
      continue()
    endif()
    if(line MATCHES "PSALM_HD" AND NOT line MATCHES "#[ \t]*(define|if|endif|else)")
      set(bodies "${line}")
    endif()
    if(line MATCHES "(^|[^_A-Za-z0-9])record\\(")
      set(tape "${line}")
    endif()
  endforeach()
  if(bodies AND NOT layer IN_LIST PSALM_BODY_LAYERS)
    string(STRIP "${bodies}" bodies)
    string(APPEND failures "\n  ${h} defines a kernel body (${bodies}): kernel bodies belong in "
           "kernels/ (layer ${layer} launches them)")
  endif()
  # A tape entry needs the tape: a header that reaches no autograd header calls some other
  # record() (io's TensorRecord lookups), not autograd::record.
  set(uses_tape FALSE)
  string(MAKE_C_IDENTIFIER "${h}" id)
  foreach(r IN LISTS reach_${id})
    if(r MATCHES "^autograd/")
      set(uses_tape TRUE)
      break()
    endif()
  endforeach()
  if(tape AND uses_tape AND NOT layer IN_LIST PSALM_TAPE_LAYERS)
    string(STRIP "${tape}" tape)
    string(APPEND failures "\n  ${h} records a tape entry (${tape}): differentiable ops belong in "
           "autograd/ (layer ${layer} composes them)")
  endif()
endforeach()

if(failures)
  message(FATAL_ERROR "layer rule violations:${failures}")
endif()
list(LENGTH headers n)
message(STATUS "layer order: ${n} headers checked, umbrellas looked through")

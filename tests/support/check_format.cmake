# Checks that every C++ and CUDA source of the project is formatted with the repository's
# .clang-format (docs/testing.md): runs `clang-format --dry-run --Werror` on each file under
# include/, tools/, tests/, benchmarks/ and examples/ and fails naming the files that differ.
# Fix with `clang-format -i FILE`. Where clang-format is absent it prints "clang-format not
# found", which the test reports as skipped; scripts/install-deps.sh installs it, so CI always
# runs the check.
# Usage: cmake -DROOT=<repository root> [-DCLANG_FORMAT=<program>] -P check_format.cmake
# Test: tests/support/check_format.cmake is itself the `format` test in tests/CMakeLists.txt.
cmake_minimum_required(VERSION 3.25)

if(NOT CLANG_FORMAT OR NOT EXISTS "${CLANG_FORMAT}")
  unset(CLANG_FORMAT)
  find_program(CLANG_FORMAT NAMES clang-format clang-format-14)
endif()
if(NOT CLANG_FORMAT)
  message(STATUS "check_format: clang-format not found; skipped")
  return()
endif()

get_filename_component(ROOT "${ROOT}" ABSOLUTE)
set(sources "")
foreach(dir include tools tests benchmarks examples)
  file(GLOB_RECURSE found LIST_DIRECTORIES false
    ${ROOT}/${dir}/*.hpp ${ROOT}/${dir}/*.cpp ${ROOT}/${dir}/*.cuh ${ROOT}/${dir}/*.cu)
  list(APPEND sources ${found})
endforeach()
list(FILTER sources EXCLUDE REGEX "/tests/fixtures/")
list(LENGTH sources count)
if(count EQUAL 0)
  message(FATAL_ERROR "check_format: no sources found under ${ROOT}")
endif()

set(unformatted "")
foreach(file IN LISTS sources)
  execute_process(COMMAND ${CLANG_FORMAT} --style=file --dry-run --Werror ${file}
    WORKING_DIRECTORY ${ROOT} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    file(RELATIVE_PATH rel ${ROOT} ${file})
    string(APPEND unformatted "  ${rel}\n")
  endif()
endforeach()
if(unformatted)
  message(FATAL_ERROR "check_format: these files differ from .clang-format "
    "(run clang-format -i on them):\n${unformatted}")
endif()
message(STATUS "check_format: ${count} files formatted")

# Runs Doxygen over include/psalm/ (docs/api/Doxyfile.in, as the target psalm_api_docs does)
# and fails when the warnings for undocumented public entities ("... is not documented")
# outnumber docs/api/undocumented_baseline.txt, so the count only goes down: document what you
# add, and lower the baseline when you document more. Prints "doxygen not found" (the test
# then counts as skipped) where Doxygen is absent; scripts/install-deps.sh installs it.
# Usage: cmake -DDOXYGEN=<doxygen or empty> -DDOXYFILE=<configured Doxyfile> -DOUT=<its output
#        folder> -DBASELINE=<baseline file> -P check_api_docs.cmake
# Test: tests/support/check_api_docs.cmake is itself the `api_docs` test in tests/CMakeLists.txt.
cmake_minimum_required(VERSION 3.25)

if(NOT DOXYGEN OR NOT EXISTS "${DOXYGEN}")
  message(STATUS "check_api_docs: doxygen not found; skipped")
  return()
endif()
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
# The configured Doxyfile, writing into OUT instead of the target's folder.
file(WRITE ${OUT}/Doxyfile "@INCLUDE = ${DOXYFILE}\nOUTPUT_DIRECTORY = ${OUT}\nWARN_LOGFILE = ${OUT}/warnings.txt\n")
execute_process(COMMAND ${DOXYGEN} ${OUT}/Doxyfile RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "check_api_docs: doxygen failed (${rc}):\n${err}")
endif()
file(STRINGS ${OUT}/warnings.txt undocumented REGEX "warning: .* is not documented")
list(REMOVE_DUPLICATES undocumented)
list(LENGTH undocumented count)
file(STRINGS ${BASELINE} baseline REGEX "^[0-9]+$")
if(NOT baseline MATCHES "^[0-9]+$")
  message(FATAL_ERROR "check_api_docs: ${BASELINE} holds no count")
endif()
if(count GREATER baseline)
  math(EXPR more "${count} - ${baseline}")
  list(SUBLIST undocumented 0 40 shown)
  list(JOIN shown "\n  " shown)
  message(FATAL_ERROR "check_api_docs: ${count} undocumented entities, ${more} more than the "
    "baseline ${baseline} (${BASELINE}): document the new ones (a /// comment). Warnings "
    "(${OUT}/warnings.txt, first 40):\n  ${shown}")
endif()
if(count LESS baseline)
  message(STATUS "check_api_docs: ${count} undocumented entities, below the baseline ${baseline}: "
    "lower ${BASELINE} to ${count}")
else()
  message(STATUS "check_api_docs: ${count} undocumented entities (baseline ${baseline})")
endif()

# Shows that tests/support/check_test_lines.cmake can fail: it writes a small repository with
# one header per rule broken (no Test: line, a missing test file on a continuation line, only
# a fixture folder named) beside a clean header, requires the failure to name each broken
# header and rule, then requires the clean header alone to pass.
# Usage: cmake -DCHECK=<check_test_lines.cmake> -DWORK=<scratch folder> -P check_test_lines_selftest.cmake
cmake_minimum_required(VERSION 3.25)

set(root ${WORK}/repo)
file(REMOVE_RECURSE ${root})
file(WRITE ${root}/tests/x/test_a.cpp "")
file(MAKE_DIRECTORY ${root}/tests/fixtures/x)
file(WRITE ${root}/include/psalm/a.hpp
     "// psalm/a.hpp — a thing. Depends on: core.\n// Test: tests/x/test_a.cpp.\n#pragma once\n")
file(WRITE ${root}/include/psalm/b.hpp "// psalm/b.hpp — no test named.\n#pragma once\n")
file(WRITE ${root}/include/psalm/c.hpp
     "// psalm/c.hpp — a thing. Test:\n// tests/x/test_missing.cpp.\n#pragma once\n")
file(WRITE ${root}/include/psalm/d.hpp
     "// psalm/d.hpp — a thing; Test: tests/fixtures/x (fixtures only).\n#pragma once\n")

execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${root} -P ${CHECK}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(expected
  "include/psalm/b.hpp: no `Test:` line"
  "include/psalm/c.hpp: names tests/x/test_missing.cpp, which does not exist"
  "include/psalm/d.hpp: its `Test:` line names no test source")
set(errors "")
if(rc EQUAL 0)
  string(APPEND errors "  the broken tree passed\n")
endif()
foreach(e IN LISTS expected)
  string(FIND "${err}" "${e}" at)
  if(at EQUAL -1)
    string(APPEND errors "  the failure does not say: ${e}\n")
  endif()
endforeach()
string(FIND "${err}" "include/psalm/a.hpp" at)
if(NOT at EQUAL -1)
  string(APPEND errors "  the clean header a.hpp was reported\n")
endif()

file(REMOVE ${root}/include/psalm/b.hpp ${root}/include/psalm/c.hpp ${root}/include/psalm/d.hpp)
execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${root} -P ${CHECK}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  string(APPEND errors "  the clean tree failed:\n${err}\n")
endif()

if(errors)
  message(FATAL_ERROR "check_test_lines_selftest:\n${errors}")
endif()
message(STATUS "check_test_lines_selftest: the check fails on each broken header and passes a clean one")

# Shows that the tutorial checker (tests/support/tutorial_check.cpp) fails on stale pages: in a
# small repository with one program region, a page whose C++ block matches and whose command
# runs (shortened by its short line) must pass; a page whose block lost a line, one with a
# block tied to no program, one whose short line matches no command, one with an unchecked
# ```python fence and one whose command fails must each fail, naming the problem.
# Usage: cmake -DCHECK=<tutorial_check program> -DWORK=<scratch folder> -P tutorial_selftest.cmake
cmake_minimum_required(VERSION 3.25)

set(root ${WORK}/repo)
file(REMOVE_RECURSE ${WORK})
file(WRITE ${root}/examples/tutorials/01_x.cpp
  "int main() {\n  // [snippet:sum]\n  int s = 0;\n  for (int i = 0; i < 3; ++i) s += i;\n  // [/snippet:sum]\n  return s;\n}\n")
set(good_block "<!-- snippet: examples/tutorials/01_x.cpp#sum -->\n```cpp\nint s = 0;\nfor (int i = 0; i < 3; ++i) s += i;\n```\n")
file(WRITE ${root}/docs/good.md
  "# good\n${good_block}\n<!-- short: --steps 1000 => --steps 2 -->\n```sh\necho --steps 1000 > ran.txt\n```\n```text\nshown\n```\n")
file(WRITE ${root}/docs/stale.md
  "<!-- snippet: examples/tutorials/01_x.cpp#sum -->\n```cpp\nint s = 0;\n```\n")
file(WRITE ${root}/docs/untied.md "```cpp\nint s = 0;\n```\n")
file(WRITE ${root}/docs/short.md "<!-- short: --minutes 5 => --steps 2 -->\n```sh\ntrue\n```\n")
file(WRITE ${root}/docs/fence.md "```python\nprint(1)\n```\n")
file(WRITE ${root}/docs/fails.md "```sh\nfalse\n```\n")
file(MAKE_DIRECTORY ${WORK}/build)

set(errors "")
function(expect page rc_ok text)
  execute_process(COMMAND ${CHECK} ${root}/docs/${page} --root ${root} --run ${WORK}/run_${page}
                  --build ${WORK}/build RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc_ok AND NOT rc EQUAL 0)
    string(APPEND errors "  ${page} failed:\n${out}${err}\n")
  elseif(NOT rc_ok AND rc EQUAL 0)
    string(APPEND errors "  the stale page ${page} passed\n")
  endif()
  string(FIND "${out}${err}" "${text}" at)
  if(at EQUAL -1)
    string(APPEND errors "  ${page}: the output does not say: ${text}\n${out}${err}\n")
  endif()
  set(errors "${errors}" PARENT_SCOPE)
endfunction()

expect(good.md TRUE "every command ran")
if(EXISTS ${WORK}/run_good.md/ran.txt)
  file(READ ${WORK}/run_good.md/ran.txt ran)
  if(NOT ran STREQUAL "--steps 2\n")
    string(APPEND errors "  the short line was not applied: ran '${ran}'\n")
  endif()
else()
  string(APPEND errors "  good.md's command did not run in its scratch folder\n")
endif()
expect(stale.md FALSE "the block differs from examples/tutorials/01_x.cpp#sum at its line 2")
expect(untied.md FALSE "a cpp block without <!-- snippet: FILE#NAME --> above it")
expect(short.md FALSE "the short line's '--minutes 5' is in no sh block")
expect(fence.md FALSE "a ```python block")
expect(fails.md FALSE "a command of")

if(errors)
  message(FATAL_ERROR "tutorial_check_selftest:\n${errors}")
endif()
message(STATUS "tutorial_check_selftest: the checker passes the good page and fails each stale one")

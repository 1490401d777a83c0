# Helpers every CMakeLists uses to declare tests the same way.
#
# claw_add_unit_test(NAME SOURCES... [LIBS libs...])
#   a cmocka test, label "unit".
# claw_add_fuzzer(NAME SOURCES... [LIBS libs...])
#   a libFuzzer harness. In a CLAW_FUZZ build it links -fsanitize=fuzzer and
#   runs for a short while (label "fuzz"); in every other build it links the
#   replay driver and replays tests/fuzz/corpus/NAME (label "unit"), so the
#   stored malformed inputs are checked under the sanitizers too.
# claw_add_py_test(NAME SCRIPT LABELS labels...)
#   an integration test in Python (stdlib only) run by ctest with the build
#   directory, source directory and binaries in its environment.

function(claw_add_unit_test name)
  cmake_parse_arguments(A "" "" "LIBS" ${ARGN})
  if(CLAW_FUZZ)
    return()
  endif()
  add_executable(${name} ${A_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE claw PkgConfig::CMOCKA ${A_LIBS})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit)
endfunction()

function(claw_add_fuzzer name)
  cmake_parse_arguments(A "" "" "LIBS" ${ARGN})
  set(corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name})
  if(CLAW_FUZZ)
    add_executable(${name} ${A_UNPARSED_ARGUMENTS})
    target_link_libraries(${name} PRIVATE claw ${A_LIBS})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    set(work ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
    add_test(NAME ${name}
             COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                     ${CMAKE_SOURCE_DIR}/tests/fuzz/run-fuzzer.sh
                     $<TARGET_FILE:${name}> ${corpus} ${work})
    set_tests_properties(${name} PROPERTIES LABELS fuzz)
  else()
    add_executable(${name}_replay ${A_UNPARSED_ARGUMENTS}
                   ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
    target_link_libraries(${name}_replay PRIVATE claw ${A_LIBS})
    add_test(NAME ${name}_replay COMMAND ${name}_replay ${corpus})
    set_tests_properties(${name}_replay PROPERTIES LABELS unit)
  endif()
endfunction()

function(claw_add_py_test name script)
  cmake_parse_arguments(A "" "TIMEOUT" "LABELS" ${ARGN})
  if(CLAW_FUZZ)
    return()
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 600)
  endif()
  add_test(NAME ${name}
           COMMAND python3 -u ${script}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  # Suites on the shared Docker engine and registry (some restart dockerd)
  # run one at a time; the others run in parallel.
  if("docker" IN_LIST A_LABELS)
    set_tests_properties(${name} PROPERTIES RESOURCE_LOCK docker)
  endif()
  set_tests_properties(${name} PROPERTIES
    LABELS "${A_LABELS}"
    TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "CLAW_BUILD_DIR=${CMAKE_BINARY_DIR};CLAW_SOURCE_DIR=${CMAKE_SOURCE_DIR};PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/integration;PYTHONDONTWRITEBYTECODE=1")
endfunction()

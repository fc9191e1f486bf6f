// Anchors the test suite's precompiled header (see tests/CMakeLists.txt).

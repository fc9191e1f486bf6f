# Finds psalm's dependencies and defines the imported targets psalm links against.
# Shared by the build tree (CMakeLists.txt) and the installed package (psalmConfig.cmake), so
# a downstream find_package(psalm) finds the same packages on its own machine: the exported
# targets name only imported targets, never a path of the machine psalm was built on. Every
# package here comes from scripts/install-deps.sh (oneDNN's CMake package needs OpenCL's files
# too: ocl-icd-opencl-dev); scripts/fresh-check.sh proves it on a fresh Debian 12 root.
include(CMakeFindDependencyMacro)
find_package(PkgConfig REQUIRED)
find_dependency(Eigen3 3.3 NO_MODULE)
find_dependency(fmt)
find_dependency(nlohmann_json 3)
find_dependency(OpenMP COMPONENTS CXX)
find_dependency(dnnl)
find_dependency(ZLIB)
pkg_check_modules(PSALM_OPENBLAS REQUIRED IMPORTED_TARGET GLOBAL openblas)
pkg_check_modules(PSALM_UTF8PROC REQUIRED IMPORTED_TARGET GLOBAL libutf8proc)
# cpp-httplib (libcpp-httplib-dev; Debian ships a pkg-config file, no CMake package) is optional:
# only psalm/serve/server.hpp (`psalm serve`, the psalm::serve target) uses it.
pkg_check_modules(PSALM_HTTPLIB QUIET IMPORTED_TARGET GLOBAL cpp-httplib)
# stb has no CMake or pkg-config file: its folder is searched for here, on each machine.
find_path(PSALM_STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED)
if(NOT TARGET psalm_deps::stb)
  add_library(psalm_deps::stb INTERFACE IMPORTED)
  set_target_properties(psalm_deps::stb PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${PSALM_STB_INCLUDE_DIR}")
endif()

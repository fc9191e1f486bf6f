# Finds psalm's dependencies and defines the imported targets psalm links against.
# Shared by the build tree (CMakeLists.txt) and the installed package (psalmConfig.cmake), so
# a downstream find_package(psalm) resolves exactly what the build used.
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
find_path(PSALM_STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED)

# Every external library comes from Debian's packages (scripts/deps installs them) and is
# found through pkg-config, so a missing one fails here with its package name.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
pkg_check_modules(INIH REQUIRED IMPORTED_TARGET inih)
pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)

# BearSSL ships no pkg-config file in Debian.
find_path(BEARSSL_INCLUDE_DIR bearssl.h PATH_SUFFIXES bearssl REQUIRED)
find_library(BEARSSL_LIBRARY bearssl REQUIRED)
add_library(xr_bearssl INTERFACE)
target_include_directories(xr_bearssl INTERFACE ${BEARSSL_INCLUDE_DIR})
target_link_libraries(xr_bearssl INTERFACE ${BEARSSL_LIBRARY})
# As a system directory for every target: BearSSL's headers are not -Wundef clean, and our
# warnings are for our code.
include_directories(SYSTEM ${BEARSSL_INCLUDE_DIR})

if(XR_BUILD_TESTS)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
  pkg_check_modules(GMP REQUIRED IMPORTED_TARGET gmp)
endif()

# Warning and sanitizer flags travel on INTERFACE targets: every xroute target links
# xr_warnings (privately, so consumers of the installed library do not inherit -Werror) and
# xr_sanitize (publicly, so everything linked into one binary is instrumented alike).
add_library(xr_warnings INTERFACE)
target_compile_options(xr_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-align -Wwrite-strings -Wvla
  -Wformat=2 -Wundef -Wno-missing-field-initializers
  $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition>
  $<$<BOOL:${XR_WERROR}>:-Werror>)

add_library(xr_sanitize INTERFACE)
if(XR_SANITIZE)
  string(REPLACE " " "" _xr_san "${XR_SANITIZE}")
  if(NOT _xr_san MATCHES "^(address,undefined|undefined,address|address|undefined|thread)$")
    message(FATAL_ERROR "XR_SANITIZE must be address,undefined or thread, not '${XR_SANITIZE}'")
  endif()
  target_compile_options(xr_sanitize INTERFACE -fsanitize=${_xr_san} -fno-omit-frame-pointer
                         -fno-sanitize-recover=all)
  target_link_options(xr_sanitize INTERFACE -fsanitize=${_xr_san})
  target_compile_definitions(xr_sanitize INTERFACE XR_SANITIZED=1)
  if(_xr_san STREQUAL "thread")
    target_compile_definitions(xr_sanitize INTERFACE XR_TSAN=1)
  endif()
endif()

# jemalloc is the allocator of every xroute binary (not of the libraries: an embedding bank
# process keeps its own allocator). Sanitizers bring their own allocator, so it is left out
# of sanitized builds.
add_library(xr_allocator INTERFACE)
if(NOT XR_SANITIZE)
  target_link_libraries(xr_allocator INTERFACE PkgConfig::JEMALLOC)
  target_compile_definitions(xr_allocator INTERFACE XR_WITH_JEMALLOC=1)
endif()

# Fuzz builds instrument every xroute object for libFuzzer's coverage feedback; only the fuzz
# targets themselves link libFuzzer's main (tests/fuzz/CMakeLists.txt).
if(XR_BUILD_FUZZERS)
  target_compile_options(xr_sanitize INTERFACE -fsanitize=fuzzer-no-link)
  target_compile_definitions(xr_sanitize INTERFACE XR_FUZZING=1)
endif()

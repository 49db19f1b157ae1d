# Install rules: public headers, both layer libraries, a CMake package (find_package(xroute)
# gives xroute::core and xroute::adapters) and xroute.pc for pkg-config users.
include(CMakePackageConfigHelpers)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/xroute
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(TARGETS xroute_core xroute_adapters EXPORT xrouteTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT xrouteTargets NAMESPACE xroute::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/xroute)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/xrouteConfig.cmake.in
  ${PROJECT_BINARY_DIR}/xrouteConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/xroute)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/xrouteConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/xrouteConfig.cmake
              ${PROJECT_BINARY_DIR}/xrouteConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/xroute)
file(RELATIVE_PATH XR_PC_PREFIX_REL ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" XR_PC_PREFIX_REL "${XR_PC_PREFIX_REL}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/xroute.pc.in ${PROJECT_BINARY_DIR}/xroute.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/xroute.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

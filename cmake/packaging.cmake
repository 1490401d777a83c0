# packaging.cmake - Debian packages of the platform, built with CPack's DEB
# generator (docs/operations.md, "Debian packages"):
#   claw-controlplane  the daemon, its migrations and dashboard, its systemd
#                      unit and sysusers.d entry (system user claw)
#   claw-node-agent    the daemon and its systemd unit (runs as root)
#   clawctl            the operator CLI
# One CPack component per package; the components' own install rules live
# here (the ones in the component directories, without a component, are
# for `cmake --install` and are left out of the packages). The daemons'
# maintainer scripts are made from deploy/debian/*.in.
#
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build && (cd build && cpack -G DEB)
#
# The units name every installed path on the command line, so packages from
# a build configured for another prefix still find their files; configure
# with /usr all the same, so that the compiled-in defaults match too.
# Packages go to /usr whatever CMAKE_INSTALL_PREFIX says; systemd units to
# /lib/systemd/system (Debian 12's place for a package's units).
if(CLAW_FUZZ OR NOT TARGET claw-controlplane OR NOT TARGET claw-node-agent
   OR NOT TARGET clawctl)
  return()
endif()
include(GNUInstallDirs)
set(CLAW_PACKAGE_CONTACT "claw maintainers <maintainers@claw.example.org>"
    CACHE STRING "Maintainer field of the Debian packages")

set(CLAW_PKG_DIR ${CMAKE_SOURCE_DIR}/deploy/debian)
set(CLAW_PKG_UNITS ${CMAKE_SOURCE_DIR}/deploy/systemd)
set(CLAW_PKG_GEN ${CMAKE_BINARY_DIR}/packaging)
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
    WORLD_READ WORLD_EXECUTE)

# claw_pkg_docs(COMPONENT PACKAGE): copyright, changelog.gz and
# operations.md under /usr/share/doc/PACKAGE. The changelog (native
# package: one entry, this version) is made at configure time.
function(claw_pkg_docs component package)
  set(doc ${CMAKE_INSTALL_DATADIR}/doc/${package})
  set(dir ${CLAW_PKG_GEN}/${package})
  string(TIMESTAMP date "%a, %d %b %Y %H:%M:%S +0000" UTC)
  file(WRITE ${dir}/changelog
       "${package} (${PROJECT_VERSION}) unstable; urgency=medium\n\n"
       "  * Built from the claw source tree.\n\n"
       " -- ${CLAW_PACKAGE_CONTACT}  ${date}\n")
  execute_process(COMMAND gzip -9nf ${dir}/changelog)
  install(FILES ${dir}/changelog.gz ${CLAW_PKG_DIR}/copyright
                ${CMAKE_SOURCE_DIR}/docs/operations.md
          DESTINATION ${doc} COMPONENT ${component})
endfunction()

install(TARGETS claw-controlplane RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT controlplane)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/migrations/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/claw/migrations
        COMPONENT controlplane FILES_MATCHING PATTERN "*.sql")
install(DIRECTORY ${CMAKE_SOURCE_DIR}/web/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/claw/web COMPONENT controlplane)
install(FILES ${CLAW_PKG_UNITS}/claw-controlplane.service
        DESTINATION /lib/systemd/system COMPONENT controlplane)
install(FILES ${CLAW_PKG_UNITS}/claw.sysusers DESTINATION lib/sysusers.d
        RENAME claw.conf COMPONENT controlplane)
install(FILES ${CLAW_PKG_UNITS}/claw-controlplane-credentials.conf
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/claw-controlplane/examples
        COMPONENT controlplane)
claw_pkg_docs(controlplane claw-controlplane)

install(TARGETS claw-node-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT nodeagent)
install(FILES ${CLAW_PKG_UNITS}/claw-node-agent.service
        DESTINATION /lib/systemd/system COMPONENT nodeagent)
claw_pkg_docs(nodeagent claw-node-agent)

install(TARGETS clawctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT clawctl)
claw_pkg_docs(clawctl clawctl)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME claw)
set(CPACK_PACKAGE_VENDOR claw)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${CLAW_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "claw agent platform (self-hosted)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL controlplane nodeagent clawctl)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

set(CPACK_DEBIAN_CONTROLPLANE_PACKAGE_NAME claw-controlplane)
set(CPACK_DEBIAN_CONTROLPLANE_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_CONTROLPLANE_PACKAGE_RECOMMENDS postgresql)
set(CPACK_DEBIAN_CONTROLPLANE_DESCRIPTION
    "The control plane of the claw agent platform: its REST API and\ndashboard, tenants, tokens, secrets and the audit log in PostgreSQL\n(an embedded cluster under /var/lib/claw unless --database-url names\none). Runs as the system user claw under claw-controlplane.service.")
set(CPACK_DEBIAN_NODEAGENT_PACKAGE_NAME claw-node-agent)
# adduser: the shared postinst names it (for a daemon with its own user).
set(CPACK_DEBIAN_NODEAGENT_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_NODEAGENT_PACKAGE_RECOMMENDS "docker.io, e2fsprogs")
set(CPACK_DEBIAN_NODEAGENT_DESCRIPTION
    "The node agent of the claw platform runs its tenants on this host's\nDocker engine: pulls their images, starts and health-checks their\ncontainers, hands them their secrets, and reports to the control plane.\nRuns as root under claw-node-agent.service.")
set(CPACK_DEBIAN_CLAWCTL_PACKAGE_NAME clawctl)
set(CPACK_DEBIAN_CLAWCTL_DESCRIPTION
    "clawctl, the operator's command-line client of the claw platform,\ntalks to the control plane's REST API: tenants, deploys, secrets,\ntokens, nodes and the audit log.")

# claw_pkg_scripts(COMPONENT PACKAGE USER STATE_DIR): the maintainer
# scripts of a daemon's package, made from deploy/debian/*.in.
function(claw_pkg_scripts component package user state)
  set(PKG ${package})
  set(PKG_USER ${user})
  set(PKG_UNIT ${package}.service)
  set(PKG_STATE ${state})
  set(extra)
  foreach(script postinst prerm postrm)
    configure_file(${CLAW_PKG_DIR}/${script}.in
                   ${CLAW_PKG_GEN}/${package}/${script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
                   GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
    list(APPEND extra ${CLAW_PKG_GEN}/${package}/${script})
  endforeach()
  string(TOUPPER ${component} COMP)
  set(CPACK_DEBIAN_${COMP}_PACKAGE_CONTROL_EXTRA "${extra}" PARENT_SCOPE)
endfunction()
claw_pkg_scripts(controlplane claw-controlplane claw /var/lib/claw)
claw_pkg_scripts(nodeagent claw-node-agent root /var/lib/claw-node-agent)

include(CPack)

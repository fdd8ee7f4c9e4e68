# ctest driver: install the SDK (and the QML module) from this build into a temporary
# prefix, then configure, build and run tests/consumer/project against it with
# find_package(Kernia).
#   -DSDK_BUILD_DIR=... -DCONSUMER_SOURCE_DIR=... -DWORK_DIR=... [-DQML_BUILD_DIR=...]
foreach(var SDK_BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "${var} is not set")
    endif()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

message(STATUS "installing the SDK into ${prefix}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${SDK_BUILD_DIR}" --prefix "${prefix}"
                COMMAND_ERROR_IS_FATAL ANY)
set(expected include/Kernia/Client include/Kernia/client.h include/Kernia/kernia_version.h
    cmake/Kernia/KerniaConfig.cmake cmake/Kernia/KerniaConfigVersion.cmake cmake/Kernia/KerniaTargets.cmake)
if(QML_BUILD_DIR)
    message(STATUS "installing the QML module into ${prefix}")
    execute_process(COMMAND "${CMAKE_COMMAND}" --install "${QML_BUILD_DIR}" --prefix "${prefix}"
                    COMMAND_ERROR_IS_FATAL ANY)
    list(APPEND expected qml/Kernia/qmldir qml/Kernia/KerniaQml.qmltypes qml/Kernia/libKerniaQmlplugin.so
         libKerniaQml.so)
endif()
file(GLOB_RECURSE installed RELATIVE "${prefix}" "${prefix}/*")
foreach(f IN LISTS expected)
    set(found FALSE)
    foreach(i IN LISTS installed)
        string(LENGTH "${i}" il)
        string(LENGTH "${f}" fl)
        if(il GREATER_EQUAL fl)
            math(EXPR start "${il} - ${fl}")
            string(SUBSTRING "${i}" ${start} -1 tail)
            if(tail STREQUAL f)
                set(found TRUE)
            endif()
        endif()
    endforeach()
    if(NOT found)
        message(FATAL_ERROR "not installed: ${f}\ninstalled: ${installed}")
    endif()
endforeach()

message(STATUS "configuring the consumer")
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${WORK_DIR}/build"
                        "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_BUILD_TYPE=Release
                COMMAND_ERROR_IS_FATAL ANY)
message(STATUS "building the consumer")
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" COMMAND_ERROR_IS_FATAL ANY)
message(STATUS "running the consumer")
execute_process(COMMAND "${WORK_DIR}/build/consumer" TIMEOUT 60 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the consumer failed: ${rc}")
endif()
if(QML_BUILD_DIR)
    # No import path from this build: only the prefix's QML directory (from the package
    # config) may provide `import Kernia`.
    message(STATUS "running the QML consumer")
    execute_process(COMMAND "${CMAKE_COMMAND}" -E env --unset=QML_IMPORT_PATH --unset=QML2_IMPORT_PATH
                            "${WORK_DIR}/build/qml_consumer"
                    TIMEOUT 60 RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "the QML consumer failed: ${rc}")
    endif()
endif()

# An incompatible version request must be refused by KerniaConfigVersion.cmake.
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${WORK_DIR}/build-v99"
                        "-DCMAKE_PREFIX_PATH=${prefix}" -DKERNIA_REQUIRE_VERSION=99.0
                RESULT_VARIABLE rc99 OUTPUT_QUIET ERROR_VARIABLE err99)
if(rc99 EQUAL 0)
    message(FATAL_ERROR "find_package(Kernia 99.0) unexpectedly succeeded")
endif()
message(STATUS "find_package(Kernia 99.0) refused as expected")
file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "consumer test passed")

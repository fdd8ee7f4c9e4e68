# ctest driver: install the SDK from this build into a temporary prefix, then
# configure, build and run tests/consumer/project against it with find_package(Kernia).
#   -DSDK_BUILD_DIR=... -DCONSUMER_SOURCE_DIR=... -DWORK_DIR=...
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
file(GLOB_RECURSE installed RELATIVE "${prefix}" "${prefix}/*")
foreach(f include/Kernia/Client include/Kernia/client.h include/Kernia/kernia_version.h
          cmake/Kernia/KerniaConfig.cmake cmake/Kernia/KerniaConfigVersion.cmake cmake/Kernia/KerniaTargets.cmake)
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

// Kernia SDK — export macro and library-wide declarations.
//
//   #include <Kernia/Client>      // pulls this header in; apps rarely include it directly
//
// KERNIA_SDK_EXPORT marks the public API of the shared library KerniaSdk
// (CMake target Kernia::Sdk). Everything not marked is private.
#pragma once

#include <QtCore/qglobal.h>

#if defined(KERNIA_SDK_STATIC)
#  define KERNIA_SDK_EXPORT
#elif defined(KERNIA_SDK_BUILD)
#  define KERNIA_SDK_EXPORT Q_DECL_EXPORT
#else
#  define KERNIA_SDK_EXPORT Q_DECL_IMPORT
#endif

#include <Kernia/kernia_version.h>
